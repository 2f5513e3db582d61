/**
 * A typed client for the parts of the MLflow REST API (2.0 paths) that model gating needs:
 * runs, experiments, registered models, model versions and aliases.
 * https://mlflow.org/docs/latest/api_reference/rest-api.html
 *
 * Node 20's built-in fetch; no dependencies. Errors name the endpoint, the HTTP status and
 * MLflow's error_code, never the credentials.
 */

/** How to reach and authenticate to a tracking server. */
export interface MlflowClientOptions {
    /** Base URL of the tracking server, e.g. `http://mlflow.mlops:5000` (a path prefix is kept). */
    trackingUri: string;
    /** HTTP basic auth (MLflow's basic-auth app). Ignored when `token` is set. */
    username?: string;
    password?: string;
    /** Bearer token (`Authorization: Bearer ...`), e.g. behind an auth proxy. */
    token?: string;
    /** Per-request timeout; default 30 000 ms. */
    timeoutMs?: number;
    /** Replaceable for tests; default the global fetch. */
    fetch?: typeof fetch;
}

export interface MlflowTag {
    key: string;
    value: string;
}

export interface MlflowMetric {
    key: string;
    value: number;
    timestamp: number;
    step: number;
}

export interface MlflowRunInfo {
    run_id: string;
    run_name?: string;
    experiment_id: string;
    status: string;
    start_time?: number;
    end_time?: number;
    artifact_uri?: string;
    lifecycle_stage: string;
    user_id?: string;
}

export interface MlflowRun {
    info: MlflowRunInfo;
    data: { metrics?: MlflowMetric[]; params?: MlflowTag[]; tags?: MlflowTag[] };
    inputs?: unknown;
    outputs?: unknown;
}

export interface MlflowExperiment {
    experiment_id: string;
    name: string;
    artifact_location?: string;
    lifecycle_stage: string;
    tags?: MlflowTag[];
}

export interface MlflowModelVersion {
    name: string;
    version: string;
    creation_timestamp?: number;
    last_updated_timestamp?: number;
    current_stage?: string;
    description?: string;
    /** e.g. `models:/m-<logged model id>` (MLflow 3) or `runs:/<id>/model`. */
    source?: string;
    /** Empty or absent when the version was not created from a run. */
    run_id?: string;
    status?: string;
    tags?: MlflowTag[];
    aliases?: string[];
}

export interface MlflowRegisteredModel {
    name: string;
    creation_timestamp?: number;
    last_updated_timestamp?: number;
    description?: string;
    latest_versions?: MlflowModelVersion[];
    tags?: MlflowTag[];
    aliases?: { alias: string; version: string }[];
}

/** A parsed `runs:/<id>`, `models:/<name>/<version>` or `models:/<name>@<alias>` reference. */
export type ModelRef =
    | { kind: "run"; runId: string }
    | { kind: "version"; name: string; version: string }
    | { kind: "alias"; name: string; alias: string };

/** What `resolveMetrics` returns: the run's latest metric values and tags. */
export interface ResolvedMetrics {
    ref: string;
    runId: string;
    modelName?: string;
    version?: string;
    metrics: Record<string, number>;
    /** Run tags; for a model reference, model-version tags are merged over them. */
    tags: Record<string, string>;
}

/** An HTTP-level or MLflow-level failure of one API call. */
export class MlflowApiError extends Error {
    constructor(
        message: string,
        /** `GET /api/2.0/mlflow/runs/get` (no query string: it may hold names only, but keep it short). */
        public readonly endpoint: string,
        /** HTTP status; undefined when no response arrived (connection refused, timeout, DNS). */
        public readonly status?: number,
        /** MLflow's `error_code`, e.g. `RESOURCE_DOES_NOT_EXIST`. */
        public readonly errorCode?: string,
    ) {
        super(message);
        this.name = "MlflowApiError";
    }

    /** True for MLflow's "not found" answers (404 RESOURCE_DOES_NOT_EXIST, or an unknown alias). */
    get isNotFound(): boolean {
        return this.status === 404 || this.errorCode === "RESOURCE_DOES_NOT_EXIST";
    }
}

const API = "/api/2.0/mlflow";

/** Parses a model/run reference; throws with the accepted forms on anything else. */
export function parseModelRef(ref: string): ModelRef {
    const run = /^runs:\/([0-9A-Za-z_-]+)\/?$/.exec(ref);
    if (run) {
        return { kind: "run", runId: run[1] };
    }
    const alias = /^models:\/([^/@]+)@([A-Za-z0-9_-]+)$/.exec(ref);
    if (alias) {
        return { kind: "alias", name: decodeURIComponent(alias[1]), alias: alias[2] };
    }
    const version = /^models:\/([^/@]+)\/([0-9]+)$/.exec(ref);
    if (version) {
        return { kind: "version", name: decodeURIComponent(version[1]), version: version[2] };
    }
    throw new Error(
        `unsupported model reference ${JSON.stringify(ref)}: expected runs:/<run_id>, ` +
            "models:/<name>/<version> or models:/<name>@<alias>",
    );
}

/** Converts MLflow's `[{key, value}]` lists into a record. */
export function tagsToRecord(tags: MlflowTag[] | undefined): Record<string, string> {
    const out: Record<string, string> = {};
    for (const t of tags ?? []) {
        out[t.key] = t.value;
    }
    return out;
}

export class MlflowClient {
    private readonly base: string;
    private readonly headers: Record<string, string>;
    private readonly timeoutMs: number;
    private readonly doFetch: typeof fetch;

    constructor(options: MlflowClientOptions) {
        let url: URL;
        try {
            url = new URL(options.trackingUri);
        } catch {
            throw new Error(`MLflow tracking URI ${JSON.stringify(options.trackingUri)} is not a URL`);
        }
        if (url.protocol !== "http:" && url.protocol !== "https:") {
            throw new Error(
                `MLflow tracking URI must be http(s)://, got ${url.protocol} (${redactUri(options.trackingUri)})`,
            );
        }
        const headers: Record<string, string> = { Accept: "application/json" };
        let username = options.username;
        let password = options.password;
        // Credentials in the URL (http://user:pass@host) are moved to a header: fetch rejects them.
        if (url.username || url.password) {
            username ??= decodeURIComponent(url.username);
            password ??= decodeURIComponent(url.password);
            url.username = "";
            url.password = "";
        }
        if (options.token) {
            headers.Authorization = `Bearer ${options.token}`;
        } else if (username !== undefined && username !== "") {
            headers.Authorization =
                "Basic " + Buffer.from(`${username}:${password ?? ""}`).toString("base64");
        }
        this.base = url.toString().replace(/\/+$/, "");
        this.headers = headers;
        this.timeoutMs = options.timeoutMs ?? 30_000;
        this.doFetch = options.fetch ?? fetch;
    }

    /** Builds a client from MLFLOW_TRACKING_URI / _USERNAME / _PASSWORD / _TOKEN. */
    static fromEnv(env: NodeJS.ProcessEnv = process.env, timeoutMs?: number): MlflowClient {
        const trackingUri = env.MLFLOW_TRACKING_URI;
        if (!trackingUri) {
            throw new Error("MLFLOW_TRACKING_URI is not set");
        }
        return new MlflowClient({
            trackingUri,
            username: env.MLFLOW_TRACKING_USERNAME || undefined,
            password: env.MLFLOW_TRACKING_PASSWORD || undefined,
            token: env.MLFLOW_TRACKING_TOKEN || undefined,
            timeoutMs,
        });
    }

    /** The tracking server base URL, without credentials. */
    get trackingUri(): string {
        return this.base;
    }

    async getRun(runId: string): Promise<MlflowRun> {
        const res = await this.get<{ run: MlflowRun }>("runs/get", { run_id: runId });
        return res.run;
    }

    /** Latest value of each metric of the run (what `runs/get` reports). */
    async getRunMetrics(runId: string): Promise<Record<string, number>> {
        return metricsToRecord((await this.getRun(runId)).data.metrics);
    }

    /** `runs/search`; returns one page (at most `maxResults`, default 100) of runs. */
    async searchRuns(args: {
        experimentIds: string[];
        filter?: string;
        orderBy?: string[];
        maxResults?: number;
        pageToken?: string;
    }): Promise<{ runs: MlflowRun[]; nextPageToken?: string }> {
        const res = await this.post<{ runs?: MlflowRun[]; next_page_token?: string }>("runs/search", {
            experiment_ids: args.experimentIds,
            filter: args.filter ?? "",
            order_by: args.orderBy ?? [],
            max_results: args.maxResults ?? 100,
            page_token: args.pageToken,
        });
        return { runs: res.runs ?? [], nextPageToken: res.next_page_token || undefined };
    }

    /** The experiment, or undefined if none has that name. */
    async getExperimentByName(name: string): Promise<MlflowExperiment | undefined> {
        try {
            const res = await this.get<{ experiment: MlflowExperiment }>("experiments/get-by-name", {
                experiment_name: name,
            });
            return res.experiment;
        } catch (e) {
            if (e instanceof MlflowApiError && e.isNotFound) {
                return undefined;
            }
            throw e;
        }
    }

    async getRegisteredModel(name: string): Promise<MlflowRegisteredModel> {
        const res = await this.get<{ registered_model: MlflowRegisteredModel }>(
            "registered-models/get",
            { name },
        );
        return res.registered_model;
    }

    async getModelVersion(name: string, version: string | number): Promise<MlflowModelVersion> {
        const res = await this.get<{ model_version: MlflowModelVersion }>("model-versions/get", {
            name,
            version: String(version),
        });
        return res.model_version;
    }

    async getModelVersionByAlias(name: string, alias: string): Promise<MlflowModelVersion> {
        const res = await this.get<{ model_version: MlflowModelVersion }>("registered-models/alias", {
            name,
            alias,
        });
        return res.model_version;
    }

    /** Points `alias` of a registered model at `version` (creates or moves it). */
    async setModelVersionAlias(name: string, alias: string, version: string | number): Promise<void> {
        await this.post("registered-models/alias", { name, alias, version: String(version) });
    }

    /** `model-versions/search` with an MLflow filter, e.g. `name='credit-risk'` or `run_id='...'`. */
    async searchModelVersions(args: {
        filter?: string;
        maxResults?: number;
        orderBy?: string[];
        pageToken?: string;
    }): Promise<{ modelVersions: MlflowModelVersion[]; nextPageToken?: string }> {
        const query: Record<string, string | string[] | undefined> = {
            filter: args.filter,
            max_results: String(args.maxResults ?? 100),
            order_by: args.orderBy,
            page_token: args.pageToken,
        };
        const res = await this.get<{ model_versions?: MlflowModelVersion[]; next_page_token?: string }>(
            "model-versions/search",
            query,
        );
        return { modelVersions: res.model_versions ?? [], nextPageToken: res.next_page_token || undefined };
    }

    /**
     * Metrics and tags behind a reference: `runs:/<id>`, `models:/<name>/<version>` or
     * `models:/<name>@<alias>`. A model version must have been created from a run.
     */
    async resolveMetrics(ref: string): Promise<ResolvedMetrics> {
        const parsed = parseModelRef(ref);
        if (parsed.kind === "run") {
            const run = await this.getRun(parsed.runId);
            return {
                ref,
                runId: run.info.run_id,
                metrics: metricsToRecord(run.data.metrics),
                tags: tagsToRecord(run.data.tags),
            };
        }
        const mv =
            parsed.kind === "version"
                ? await this.getModelVersion(parsed.name, parsed.version)
                : await this.getModelVersionByAlias(parsed.name, parsed.alias);
        if (!mv.run_id) {
            throw new Error(
                `${ref} (version ${mv.version}, source ${mv.source ?? "?"}) has no run_id: ` +
                    "its metrics cannot be read from a run",
            );
        }
        const run = await this.getRun(mv.run_id);
        return {
            ref,
            runId: run.info.run_id,
            modelName: mv.name,
            version: mv.version,
            metrics: metricsToRecord(run.data.metrics),
            tags: { ...tagsToRecord(run.data.tags), ...tagsToRecord(mv.tags) },
        };
    }

    private get<T>(path: string, query: Record<string, string | string[] | undefined>): Promise<T> {
        const params = new URLSearchParams();
        for (const [k, v] of Object.entries(query)) {
            for (const item of Array.isArray(v) ? v : v === undefined ? [] : [v]) {
                params.append(k, item);
            }
        }
        const qs = params.toString();
        return this.request<T>("GET", path, qs ? `?${qs}` : "", undefined);
    }

    private post<T>(path: string, body: unknown): Promise<T> {
        return this.request<T>("POST", path, "", JSON.stringify(body));
    }

    private async request<T>(
        method: "GET" | "POST",
        path: string,
        query: string,
        body: string | undefined,
    ): Promise<T> {
        const endpoint = `${method} ${API}/${path}`;
        const where = `MLflow ${endpoint} at ${this.base}`;
        let response: Response;
        try {
            response = await this.doFetch(`${this.base}${API}/${path}${query}`, {
                method,
                headers: body === undefined ? this.headers : { ...this.headers, "Content-Type": "application/json" },
                body,
                signal: AbortSignal.timeout(this.timeoutMs),
            });
        } catch (e) {
            const err = e as Error & { cause?: { code?: string; message?: string } };
            const reason =
                err.name === "TimeoutError"
                    ? `no answer within ${this.timeoutMs} ms`
                    : (err.cause?.message ?? err.cause?.code ?? err.message);
            throw new MlflowApiError(`${where} failed: ${reason}`, endpoint);
        }
        const text = await response.text();
        let json: unknown;
        try {
            json = text ? JSON.parse(text) : {};
        } catch {
            json = undefined;
        }
        if (!response.ok) {
            const errorBody = (json ?? {}) as { error_code?: string; message?: string };
            const detail = errorBody.error_code
                ? `${errorBody.error_code}: ${errorBody.message ?? ""}`.trim()
                : text.replace(/\s+/g, " ").slice(0, 200) || response.statusText;
            const hint =
                response.status === 401 || response.status === 403
                    ? " (check MLFLOW_TRACKING_USERNAME/PASSWORD or MLFLOW_TRACKING_TOKEN)"
                    : "";
            throw new MlflowApiError(
                `${where} failed: HTTP ${response.status} ${detail}${hint}`,
                endpoint,
                response.status,
                errorBody.error_code,
            );
        }
        if (json === undefined) {
            throw new MlflowApiError(
                `${where} returned non-JSON (HTTP ${response.status}); is ${this.base} the MLflow server's base URL?`,
                endpoint,
                response.status,
            );
        }
        return json as T;
    }
}

function metricsToRecord(metrics: MlflowMetric[] | undefined): Record<string, number> {
    const out: Record<string, number> = {};
    for (const m of metrics ?? []) {
        out[m.key] = typeof m.value === "number" ? m.value : Number(m.value);
    }
    return out;
}

function redactUri(uri: string): string {
    return uri.replace(/\/\/[^/@]*@/, "//***@");
}
