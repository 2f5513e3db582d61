// Minimal edits of a YAML file: set one value by splicing its text, so a pull request that records a
// release contains only the release change (no reformatted flow lists, quotes or comments elsewhere).
import * as YAML from "yaml";

function lineStart(text: string, at: number): number {
    return text.lastIndexOf("\n", at - 1) + 1;
}

/** Index just after the newline that ends the line containing `at` (or the end of the text). */
function lineEnd(text: string, at: number): number {
    const nl = text.indexOf("\n", at);
    return nl < 0 ? text.length : nl + 1;
}

function pairOf(map: YAML.YAMLMap, key: string): YAML.Pair<YAML.Scalar, YAML.Node | null> | undefined {
    return map.items.find((p) => YAML.isScalar(p.key) && p.key.value === key) as YAML.Pair<YAML.Scalar, YAML.Node | null> | undefined;
}

/** `key: value` as block YAML indented by `indent`; maps of scalars are written in flow style, as the stack files do. */
export function renderEntry(key: string, value: unknown, indent: number): string {
    const doc = new YAML.Document({ [key]: value });
    YAML.visit(doc, {
        Map(_, node, path) {
            // Depth > 2: not the document, not the top-level entry's value (the release itself).
            if (path.length > 2 && node.items.every((p) => YAML.isScalar(p.value))) node.flow = true;
        },
    });
    const pad = " ".repeat(indent);
    return doc
        .toString({ lineWidth: 0, flowCollectionPadding: true })
        .split("\n")
        .filter((l, i, all) => !(i === all.length - 1 && l === ""))
        .map((l) => pad + l)
        .join("\n") + "\n";
}

/**
 * Sets `value` at `keys` (a path of map keys from the document root) by replacing only the text of
 * that entry, or inserting it at the end of the deepest existing block map. Returns undefined when
 * the file's shape does not allow an exact splice (flow maps on the path); the caller decides then.
 */
export function spliceValue(text: string, keys: string[], value: unknown): string | undefined {
    const doc = YAML.parseDocument(text);
    if (doc.errors.length || !YAML.isMap(doc.contents)) return undefined;
    let map = doc.contents as YAML.YAMLMap;
    let i = 0;
    for (; i < keys.length - 1; i++) {
        const pair = pairOf(map, keys[i]);
        if (!pair || pair.value === null || (YAML.isScalar(pair.value) && pair.value.value === null)) break;
        if (!YAML.isMap(pair.value) || pair.value.flow) return undefined;
        map = pair.value;
    }
    if (map.flow) return undefined;
    // keys[i] is the first key to write; deeper missing keys become a nested value.
    let nested: unknown = value;
    for (let j = keys.length - 1; j > i; j--) nested = { [keys[j]]: nested };
    const key = keys[i];
    const pair = pairOf(map, key);
    let out: string;
    if (pair && YAML.isScalar(pair.key) && pair.key.range) {
        const start = lineStart(text, pair.key.range[0]);
        const indent = pair.key.range[0] - start;
        const valueEnd = pair.value?.range ? pair.value.range[1] : pair.key.range[1];
        const end = lineEnd(text, Math.max(valueEnd - 1, pair.key.range[1]));
        out = text.slice(0, start) + renderEntry(key, nested, indent) + text.slice(end);
    } else {
        const first = map.items[0];
        const last = map.items[map.items.length - 1];
        if (!first || !YAML.isScalar(first.key) || !first.key.range || !YAML.isScalar(last.key) || !last.key.range) return undefined;
        const indent = first.key.range[0] - lineStart(text, first.key.range[0]);
        const lastNode = last.value as YAML.Node | null;
        const lastEnd = lastNode?.range ? lastNode.range[1] : last.key.range[1];
        const at = lineEnd(text, Math.max(lastEnd - 1, last.key.range[1]));
        const sep = at > 0 && text[at - 1] !== "\n" ? "\n" : "";
        out = text.slice(0, at) + sep + renderEntry(key, nested, indent) + text.slice(at);
    }
    // Keep the splice only if it means exactly the intended document.
    const expected = YAML.parseDocument(text);
    expected.setIn(keys, expected.createNode(value));
    const check = YAML.parseDocument(out);
    if (check.errors.length || JSON.stringify(check.toJS()) !== JSON.stringify(expected.toJS())) return undefined;
    return out;
}
