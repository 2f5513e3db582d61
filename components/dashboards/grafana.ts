// A small builder for Grafana dashboard JSON (the file-provisioning format the Grafana sidecar
// loads from labelled ConfigMaps), so dashboards are reviewed as code and their queries can be
// checked against the metric catalogue.
// https://grafana.com/docs/grafana/latest/dashboards/build-dashboards/view-dashboard-json-model/

/** One query of a panel. */
export interface Target {
    expr: string;
    /** Legend template, e.g. `{{track}}`. */
    legend?: string;
    /** Instant query (tables, stats). Default false. */
    instant?: boolean;
}

export interface PanelSpec {
    title: string;
    kind: "timeseries" | "stat" | "table";
    targets: Target[];
    /** Grafana unit id: `reqps`, `s`, `percentunit`, `percent`, `decmbytes`, `short`, `dateTimeFromNow`... */
    unit?: string;
    description?: string;
    /** Width in grid columns (24 per row). Default 12. */
    width?: number;
    /** Height in grid rows. Default 8. */
    height?: number;
    /** Thresholds for stat/timeseries colouring: value → colour, ascending. */
    thresholds?: { value: number; color: string }[];
    min?: number;
    max?: number;
}

export interface VariableSpec {
    name: string;
    label?: string;
    /** A `label_values(metric, label)` query. */
    query: string;
    multi?: boolean;
    includeAll?: boolean;
}

export interface DashboardSpec {
    uid: string;
    title: string;
    description: string;
    tags: string[];
    variables: VariableSpec[];
    /** Rows of panels, each row titled. */
    rows: { title: string; panels: PanelSpec[] }[];
    /** Default time range, e.g. `now-6h`. */
    from?: string;
    refresh?: string;
}

/** The data source every panel queries: a variable over Prometheus data sources (default uid `prometheus`). */
const DS = { type: "prometheus", uid: "${datasource}" };

/** Dashboard JSON for a spec. Panel ids and grid positions are assigned in order (stable across runs). */
export function buildDashboard(spec: DashboardSpec): Record<string, unknown> {
    const panels: Record<string, unknown>[] = [];
    let id = 1;
    let y = 0;
    for (const row of spec.rows) {
        panels.push({ id: id++, type: "row", title: row.title, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y }, panels: [] });
        y += 1;
        let x = 0;
        let rowHeight = 0;
        for (const p of row.panels) {
            const w = p.width ?? 12;
            const h = p.height ?? 8;
            if (x + w > 24) {
                x = 0;
                y += rowHeight;
                rowHeight = 0;
            }
            panels.push(panel(id++, p, { h, w, x, y }));
            x += w;
            rowHeight = Math.max(rowHeight, h);
        }
        y += rowHeight;
    }
    return {
        uid: spec.uid,
        title: spec.title,
        description: spec.description,
        tags: spec.tags,
        editable: false,
        graphTooltip: 1,
        schemaVersion: 39,
        version: 1,
        timezone: "utc",
        refresh: spec.refresh ?? "1m",
        time: { from: spec.from ?? "now-6h", to: "now" },
        templating: {
            list: [
                { name: "datasource", label: "Data source", type: "datasource", query: "prometheus", current: { text: "Prometheus", value: "prometheus" }, hide: 0 },
                ...spec.variables.map((v) => ({
                    name: v.name,
                    label: v.label ?? v.name,
                    type: "query",
                    datasource: DS,
                    query: { query: v.query, refId: `var-${v.name}` },
                    definition: v.query,
                    refresh: 2,
                    sort: 1,
                    multi: v.multi ?? true,
                    includeAll: v.includeAll ?? true,
                    ...(v.includeAll ?? true ? { allValue: ".*" } : {}),
                    current: {},
                    hide: 0,
                })),
            ],
        },
        annotations: { list: [] },
        panels,
    };
}

function panel(id: number, p: PanelSpec, gridPos: { h: number; w: number; x: number; y: number }): Record<string, unknown> {
    const steps = [{ color: "green", value: null as number | null }, ...(p.thresholds ?? []).map((t) => ({ color: t.color, value: t.value }))];
    return {
        id,
        type: p.kind,
        title: p.title,
        ...(p.description ? { description: p.description } : {}),
        datasource: DS,
        gridPos,
        targets: p.targets.map((t, i) => ({
            refId: String.fromCharCode(65 + i),
            datasource: DS,
            expr: t.expr,
            legendFormat: t.legend ?? "__auto",
            range: !(t.instant ?? p.kind !== "timeseries"),
            instant: t.instant ?? p.kind !== "timeseries",
            ...(p.kind === "table" ? { format: "table" } : {}),
        })),
        fieldConfig: {
            defaults: {
                unit: p.unit ?? "short",
                ...(p.min !== undefined ? { min: p.min } : {}),
                ...(p.max !== undefined ? { max: p.max } : {}),
                thresholds: { mode: "absolute", steps },
            },
            overrides: [],
        },
        options:
            p.kind === "timeseries"
                ? { legend: { displayMode: "table", placement: "bottom", calcs: ["lastNotNull", "max"] }, tooltip: { mode: "multi", sort: "desc" } }
                : p.kind === "stat"
                  ? { reduceOptions: { calcs: ["lastNotNull"], fields: "", values: false }, colorMode: "background", graphMode: "none" }
                  : { showHeader: true },
    };
}

/** Every PromQL expression of a dashboard (panels and variables), for checks. */
export function dashboardExprs(spec: DashboardSpec): string[] {
    // `label_values(<selector>, <label>)` reads the selector's metric; the label is not a metric.
    const variableExprs = spec.variables.map((v) => v.query.replace(/^label_values\((.*),\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)$/, "$1"));
    return [...spec.rows.flatMap((r) => r.panels.flatMap((p) => p.targets.map((t) => t.expr))), ...variableExprs];
}
