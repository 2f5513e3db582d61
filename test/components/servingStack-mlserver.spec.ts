/**
 * ServingStack with the MLServer runtime (the default of `serving.runtime`): what the Deployments,
 * Services, ServiceMonitors and NetworkPolicy declare for it, the prediction-log settings and IAM,
 * and the validation errors of the args and of the `mlops-platform:serving` config.
 */
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { parseServingConfig, SERVING_CONFIG_KEY } from "../../components/servingConfig";
import { GRPC_PORT, METRICS_PORT, MLSERVER_IMPLEMENTATION, planServingStack, servingStackArgs, ServingStackArgs } from "../../components/servingStack";
import { RecordedResource } from "../../offline-plan/types";
import { assertInvalid, inventory, one, ofType } from "../helpers/resources";
import { CANARY, IMAGE, release, renderStack, validateAll } from "./servingStack.spec";

const WRITE_POLICY = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:PutObject"],"Resource":"arn:aws:s3:::processed/predictions/*"}]}';
type Args = Omit<ServingStackArgs, "provider">;
const MLSERVER: Args = {
    ...CANARY,
    runtime: { kind: "mlserver", image: IMAGE, trackingUri: "http://mlflow.mlflow.svc.cluster.local:5000", workers: 2 },
    predictionLog: { bucket: "mlops-processed", writePolicy: WRITE_POLICY, sampleRate: 0.25, excludeFields: ["ssn", "email"] },
};
const env = (c: any): Record<string, string> => Object.fromEntries(c.env.map((e: any) => [e.name, e.value ?? `<valueFrom>`]));
const ROOT = path.resolve(__dirname, "..", "..", "..");

describe("ServingStack with the MLServer runtime", () => {
    let resources: RecordedResource[];
    before(async () => ({ resources } = await renderStack(MLSERVER)));

    it("declares the canary children plus the prediction-log write policy of the servers' role", () => {
        const names = inventory(resources);
        assert.ok(names.includes("aws:iam/rolePolicy:RolePolicy churn-identity-prediction-log-write"), names.join("\n"));
        assert.ok(names.includes("aws:iam/rolePolicy:RolePolicy churn-identity-model-artifacts-read"));
        assert.equal(names.filter((n) => n.startsWith("aws:iam/rolePolicy:RolePolicy")).length, 2);
        assert.equal(one(resources, "aws:iam/rolePolicy:RolePolicy", "churn-identity-prediction-log-write").inputs.policy, WRITE_POLICY);
        assert.equal(validateAll(resources), 16);
    });

    it("runs `mlserver start .` with the release's model, version, track and the platform runtime", () => {
        for (const [track, version] of [["stable", "6"], ["canary", "7"]]) {
            const c = one(resources, "kubernetes:apps/v1:Deployment", `churn-${track}`).inputs.spec.template.spec.containers[0];
            assert.deepEqual([c.command, c.args], [["mlserver"], ["start", "."]]);
            const e = env(c);
            assert.equal(e.MLSERVER_MODEL_NAME, "churn");
            assert.equal(e.MLSERVER_MODEL_VERSION, version);
            assert.equal(e.MLSERVER_MODEL_URI, `models:/churn/${version}`);
            assert.equal(e.MLSERVER_MODEL_IMPLEMENTATION, MLSERVER_IMPLEMENTATION);
            assert.equal(e.MLOPS_TRACK, track);
            assert.equal(e.MLFLOW_TRACKING_URI, "http://mlflow.mlflow.svc.cluster.local:5000");
            assert.equal(e.MLSERVER_PARALLEL_WORKERS, "2");
            assert.equal(e.MLSERVER_DEBUG, "false", "debug mode logs request bodies");
            // Metrics files live on the per-pod /tmp emptyDir (root filesystem is read-only).
            assert.equal(e.MLSERVER_METRICS_DIR, "$(TMPDIR)/mlserver-metrics");
            assert.ok(c.env.findIndex((x: any) => x.name === "TMPDIR") < c.env.findIndex((x: any) => x.name === "MLSERVER_METRICS_DIR"), "TMPDIR declared first ($(VAR) rule)");
            assert.deepEqual([e.MLSERVER_HTTP_PORT, e.MLSERVER_GRPC_PORT, e.MLSERVER_METRICS_PORT], ["8080", String(GRPC_PORT), String(METRICS_PORT)]);
            assert.deepEqual(c.ports.map((p: any) => [p.name, p.containerPort]), [["http", 8080], ["grpc", 8081], ["metrics", 8082]]);
            assert.equal(c.readinessProbe.httpGet.path, "/v2/health/ready");
            assert.equal(c.livenessProbe.httpGet.path, "/v2/health/live");
            assert.equal(c.startupProbe.httpGet.path, "/v2/health/live");
            assert.equal(c.securityContext.readOnlyRootFilesystem, true);
        }
    });

    it("passes the prediction-log settings, excluded fields included", () => {
        const e = env(one(resources, "kubernetes:apps/v1:Deployment", "churn-stable").inputs.spec.template.spec.containers[0]);
        assert.deepEqual(
            Object.fromEntries(Object.entries(e).filter(([k]) => k.startsWith("MLOPS_PREDICTION_LOG_"))),
            {
                MLOPS_PREDICTION_LOG_ENABLED: "true",
                MLOPS_PREDICTION_LOG_BUCKET: "mlops-processed",
                MLOPS_PREDICTION_LOG_PREFIX: "predictions/",
                MLOPS_PREDICTION_LOG_SAMPLE_RATE: "0.25",
                MLOPS_PREDICTION_LOG_BATCH_SIZE: "500",
                MLOPS_PREDICTION_LOG_FLUSH_SECONDS: "30",
                MLOPS_PREDICTION_LOG_QUEUE_SIZE: "10000",
                MLOPS_PREDICTION_LOG_EXCLUDE_FIELDS: "ssn,email",
                MLOPS_PREDICTION_LOG_FORMAT: "parquet",
            },
        );
        // The final flush must fit in the grace period left after the preStop delay.
        const pod = one(resources, "kubernetes:apps/v1:Deployment", "churn-stable").inputs.spec.template.spec;
        assert.ok(pod.terminationGracePeriodSeconds - pod.containers[0].lifecycle.preStop.sleep.seconds >= 30);
    });

    it("exposes the metrics port on the scraped Services and scrapes it with track, model and version from the pod", () => {
        for (const svc of ofType(resources, "kubernetes:core/v1:Service")) {
            assert.deepEqual(svc.inputs.spec.ports.map((p: any) => [p.name, p.port, p.targetPort]), [["http", 80, "http"], ["metrics", METRICS_PORT, "metrics"]]);
        }
        for (const track of ["stable", "canary"]) {
            const ep = one(resources, "kubernetes:monitoring.coreos.com/v1:ServiceMonitor", `churn-${track}-monitor`).inputs.spec.endpoints[0];
            assert.equal(ep.port, "metrics");
            assert.equal(ep.path, "/metrics");
            assert.deepEqual(ep.relabelings, [
                { action: "keep", sourceLabels: ["__meta_kubernetes_pod_label_mlops_platform_track"], regex: track },
                { action: "replace", targetLabel: "track", replacement: track },
                { action: "replace", targetLabel: "model_server", replacement: "churn" },
                { action: "replace", sourceLabels: ["__meta_kubernetes_pod_annotation_mlops_platform_model"], targetLabel: "model" },
                { action: "replace", sourceLabels: ["__meta_kubernetes_pod_annotation_mlops_platform_version"], targetLabel: "model_version" },
            ]);
            // The relabeling reads what the pod template carries.
            const tpl = one(resources, "kubernetes:apps/v1:Deployment", `churn-${track}`).inputs.spec.template.metadata;
            assert.equal(tpl.labels["mlops.platform/track"], track);
            assert.equal(tpl.annotations["mlops.platform/model"], "churn");
            assert.equal(tpl.annotations["mlops.platform/version"], track === "stable" ? "6" : "7");
        }
    });

    it("alerts on the metrics MLServer exports (rest_server_* with status_code), not on names nothing produces", () => {
        const rules = one(resources, "kubernetes:monitoring.coreos.com/v1:PrometheusRule", "churn-stable-alerts").inputs.spec.groups[0].rules;
        const expr = (a: string) => rules.find((r: any) => r.alert === a).expr as string;
        assert.match(expr("ModelServingHighP99Latency"), /rest_server_request_duration_seconds_bucket\{.*path=~"\/invocations\|\/v2\/models\/\.\+\/infer"/);
        assert.match(expr("ModelServingHigh5xxRate"), /rest_server_requests_total\{.*status_code=~"5\.\."/);
    });

    it("lets only Prometheus and the namespace reach the metrics port; API clients get http and gRPC", () => {
        const rules = one(resources, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "churn-ingress").inputs.spec.ingress;
        assert.deepEqual(rules[0].ports, [{ protocol: "TCP", port: 8080 }, { protocol: "TCP", port: GRPC_PORT }]);
        assert.deepEqual(rules[1].ports, [{ protocol: "TCP", port: METRICS_PORT }]);
        assert.deepEqual(rules[1].from, [{ podSelector: {} }, { namespaceSelector: { matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In", values: ["monitoring"] }] } }]);
    });

    it("without predictionLog: logging off in the env and no write policy", async () => {
        const { resources: r } = await renderStack({ ...MLSERVER, predictionLog: undefined });
        assert.ok(!inventory(r).some((n) => n.includes("prediction-log-write")));
        const e = env(one(r, "kubernetes:apps/v1:Deployment", "churn-stable").inputs.spec.template.spec.containers[0]);
        assert.equal(e.MLOPS_PREDICTION_LOG_ENABLED, "false");
        assert.equal(e.MLOPS_PREDICTION_LOG_BUCKET, undefined);
    });

    it("validates the prediction-log args, naming the property", () => {
        const plan = (a: Partial<Args>) => planServingStack("churn", { ...MLSERVER, ...a, provider: {} as any });
        assertInvalid(() => plan({ runtime: CANARY.runtime }), "predictionLog", /needs runtime.kind "mlserver"/);
        assertInvalid(() => plan({ predictionLog: { ...MLSERVER.predictionLog!, sampleRate: 0 } }), "predictionLog.sampleRate", /\(0, 1\]/);
        assertInvalid(() => plan({ predictionLog: { ...MLSERVER.predictionLog!, prefix: "predictions" } }), "predictionLog.prefix", /ending in '\/'/);
        assertInvalid(() => plan({ predictionLog: { ...MLSERVER.predictionLog!, excludeFields: ["a,b"] } }), "predictionLog.excludeFields[0]");
        assertInvalid(() => plan({ predictionLog: { ...MLSERVER.predictionLog!, bucket: "" } }), "predictionLog.bucket");
        assertInvalid(() => plan({ runtime: { ...(MLSERVER.runtime as any), workers: 65 } }), "runtime.workers", /0 to 64/);
        assertInvalid(() => plan({ runtime: { ...(MLSERVER.runtime as any), maxBatchSize: 8 } }), "runtime.maxBatchTimeSeconds", /> 0 when maxBatchSize > 1/);
    });
});

describe("mlops-platform:serving runtime and predictionLog", () => {
    const k = SERVING_CONFIG_KEY;
    const valid = { name: "churn", strategy: "canary", canary: { stable: release(6, 0.84), canaryWeight: 0 } };

    it("defaults to the MLServer runtime (1 worker, no batching) and logs predictions by default in prod only", () => {
        const dev = parseServingConfig(valid, { environment: "dev" });
        assert.deepEqual(dev.runtime, { kind: "mlserver", workers: 1, maxBatchSize: 1, maxBatchTimeSeconds: 0 });
        assert.equal(dev.predictionLog.enabled, false);
        const prod = parseServingConfig(valid, { environment: "prod" });
        assert.deepEqual(prod.predictionLog, { enabled: true, sampleRate: 0.1, prefix: "predictions/", batchSize: 500, flushSeconds: 30, queueSize: 10000, excludeFields: [], format: "parquet" });
        // The old runtimes stay available; logging must then be switched off explicitly in prod.
        assert.equal(parseServingConfig({ ...valid, runtime: { kind: "mlflow" }, predictionLog: { enabled: false } }, { environment: "prod" }).runtime.kind, "mlflow");
    });

    it("names the bad key and what is allowed", () => {
        const parse = (v: Record<string, unknown>, environment = "dev") => () => parseServingConfig({ ...valid, ...v }, { environment });
        assertInvalid(parse({ runtime: { kind: "tritonserver" } }), `${k}.runtime.kind`, /"mlserver", "mlflow", "custom"/);
        assertInvalid(parse({ runtime: { kind: "mlserver", workers: -1 } }), `${k}.runtime.workers`);
        assertInvalid(parse({ runtime: { kind: "mlserver", port: 9000 } }), `${k}.runtime.port`, /unknown property/);
        assertInvalid(parse({ predictionLog: { enabled: true, sampleRate: 1.5 } }), `${k}.predictionLog.sampleRate`, /\(0, 1\]/);
        assertInvalid(parse({ predictionLog: { enabled: "yes" } }), `${k}.predictionLog.enabled`);
        assertInvalid(parse({ predictionLog: { prefix: "logs/model=x/" } }), `${k}.predictionLog.prefix`, /no '='/);
        assertInvalid(parse({ predictionLog: { format: "csv" } }), `${k}.predictionLog.format`, /"parquet" or "jsonl"/);
        assertInvalid(parse({ predictionLog: { excludeFields: "ssn" } }), `${k}.predictionLog.excludeFields`);
        assertInvalid(parse({ predictionLog: { flushSeconds: 0 } }), `${k}.predictionLog.flushSeconds`);
        assertInvalid(parse({ predictionLog: { sampleRatio: 0.1 } }), `${k}.predictionLog.sampleRatio`, /unknown property/);
        assertInvalid(parse({ runtime: { kind: "mlflow" } }, "prod"), `${k}.predictionLog.enabled`, /needs runtime.kind "mlserver"/);
    });

    it("servingStackArgs hands the config's logging settings and the platform's bucket and policy to the stack", () => {
        const cfg = parseServingConfig({ ...valid, predictionLog: { enabled: true, sampleRate: 0.5, excludeFields: ["ssn"] } }, { environment: "dev" });
        const infra = { provider: {} as any, trackingUri: "http://mlflow:5000", identity: { clusterName: "c", artifactReadPolicy: "{}" } };
        assert.throws(() => servingStackArgs(cfg, infra), /needs infra.predictionLog/);
        const args = servingStackArgs(cfg, { ...infra, predictionLog: { bucket: "b", writePolicy: WRITE_POLICY } });
        assert.equal(args.runtime.kind, "mlserver");
        assert.equal((args.runtime as any).trackingUri, "http://mlflow:5000");
        assert.deepEqual(args.predictionLog, { ...cfg.predictionLog, bucket: "b", writePolicy: WRITE_POLICY });
    });

    it("the server image pins what components/python-packages.json says, and uvloop below 0.22", () => {
        const versions = JSON.parse(fs.readFileSync(path.join(ROOT, "components", "python-packages.json"), "utf8"));
        const reqs = fs.readFileSync(path.join(ROOT, "images", "server", "requirements.txt"), "utf8");
        for (const pkg of ["mlflow", "mlserver", "mlserver-mlflow"]) {
            assert.match(reqs, new RegExp(`^${pkg}==${versions[pkg].replace(/\./g, "\\.")}$`, "m"), pkg);
        }
        assert.match(reqs, /^uvloop==0\.21\.\d+$/m);
        const dockerfile = fs.readFileSync(path.join(ROOT, "images", "server", "Dockerfile"), "utf8");
        assert.match(dockerfile, /^USER 10001:10001$/m);
        assert.match(dockerfile, /^ENTRYPOINT \["mlserver"\]$/m);
    });
});
