#!/usr/bin/env bash
# Progressive delivery of a stack's model release, as the deploy pipelines (GitHub, GitLab) run it
# after the merged stack file is applied:
#
#   canary:     for each step of serving.analysis.steps (default 10 → 25 → 50 → 100 %):
#                 mlops release analyze --write  (first call with --start: weight 0 → first step)
#                 pulumi up                      (the new weight, or the promotion after the last step)
#                 wait ROLLOUT_WAIT seconds      (traffic for the next analysis window)
#               a ROLLBACK verdict is written by analyze (weight 0) and applied with pulumi up; a run
#               that keeps answering HOLD (too few requests) more than ROLLOUT_MAX_HOLDS times, or any
#               error (Prometheus unreachable, refused edit), rolls back too. Exit 1 after a rollback.
#   blue-green: the preview Service's slot is analysed against the active one; PROMOTE switches
#               (pulumi up), anything else leaves the active slot serving and exits 1.
#   nothing to analyse (no canary, no release in the idle slot): exit 0.
#
# The stack file is edited in place (Pulumi.<stack>.yaml); the pipeline commits it afterwards so the
# repository matches what serves.
#
# Usage: .ci/rollout.sh <stack>
# Env:   PROMETHEUS_URL      Prometheus that scrapes the model servers (required)
#        PULUMI_STACK        stack name for pulumi (default <stack>; e.g. org/<stack>)
#        PULUMI_UP_ARGS      extra `pulumi up` arguments (policy packs and their configs)
#        ROLLOUT_WAIT        seconds between `pulumi up` and the next analysis (default 600)
#        ROLLOUT_MAX_HOLDS   HOLD verdicts tolerated in a row before rolling back (default 3)
#        ROLLOUT_PREVIEW_LOAD  blue-green: command that sends requests with the preview header
#        MLOPS, PULUMI       how to run the CLIs (default "npx mlops", "pulumi")
set -uo pipefail
stack="${1:?usage: .ci/rollout.sh <stack>}"
: "${PROMETHEUS_URL:?PROMETHEUS_URL must point at the Prometheus that scrapes the model servers}"
PULUMI_STACK="${PULUMI_STACK:-$stack}"
ROLLOUT_WAIT="${ROLLOUT_WAIT:-600}"
ROLLOUT_MAX_HOLDS="${ROLLOUT_MAX_HOLDS:-3}"
MLOPS="${MLOPS:-npx mlops}"
PULUMI="${PULUMI:-pulumi}"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT

log() { printf '[rollout %s] %s\n' "$stack" "$*" >&2; }
up() {
    log "pulumi up ($*)"
    # shellcheck disable=SC2086
    $PULUMI up --yes --stack "$PULUMI_STACK" ${PULUMI_UP_ARGS:-} || { log "pulumi up failed"; exit 2; }
}
field() { node -e 'const o=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")); process.stdout.write(String(o[process.argv[2]] ?? ""))' "$out" "$1"; }
analyze() {
    # shellcheck disable=SC2086
    $MLOPS release analyze --stack "$stack" --prometheus-url "$PROMETHEUS_URL" --write --json --if-pending "$@" > "$out"
}
rollback() {
    log "rolling back: $*"
    $MLOPS release rollback --stack "$stack" || log "mlops release rollback refused (nothing to roll back?)"
    up "rollback"
    exit 1
}

holds=0
first=1
strategy=""
while :; do
    if [ "$first" = 1 ]; then analyze --start; rc=$?; first=0; else analyze; rc=$?; fi
    [ -s "$out" ] && cat "$out" >&2
    if [ "$rc" = 0 ] && [ "$(field pending)" = "false" ]; then
        log "nothing to analyse"
        exit 0
    fi
    if [ -s "$out" ]; then strategy="$(field strategy)"; fi
    case "$rc" in
        0)
            holds=0
            up "$(field decision)"
            if [ "$(field done)" = "true" ]; then
                log "rollout complete"
                exit 0
            fi
            ;;
        2)
            holds=$((holds + 1))
            if [ "$holds" -gt "$ROLLOUT_MAX_HOLDS" ]; then
                [ "$strategy" = blueGreen ] && { log "no decision after $holds analyses: not switching"; exit 1; }
                rollback "no decision after $holds analyses (too few requests)"
            fi
            ;;
        3)
            if [ "$strategy" = blueGreen ]; then
                log "preview slot failed the analysis: not switching"
                exit 1
            fi
            up "rollback written by analyze"
            exit 1
            ;;
        *)
            # Only a canary known to be rolling out is rolled back; otherwise nothing is edited.
            [ "$strategy" = canary ] || { log "analysis failed (exit $rc): nothing changed"; exit 1; }
            rollback "analysis failed (exit $rc)"
            ;;
    esac
    if [ "$strategy" = blueGreen ] && [ -n "${ROLLOUT_PREVIEW_LOAD:-}" ]; then
        bash -c "$ROLLOUT_PREVIEW_LOAD" || log "preview load command failed"
    fi
    log "waiting ${ROLLOUT_WAIT}s for traffic"
    sleep "$ROLLOUT_WAIT"
done
