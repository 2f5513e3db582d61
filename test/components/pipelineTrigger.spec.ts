import * as assert from "node:assert/strict";
import {
    EVENTBRIDGE_CONNECTION_KEY_TAG,
    DEFAULT_MARKER_SUFFIX,
    PipelineTrigger,
    PipelineTriggerArgs,
    TRIGGER_INPUT_PATHS,
    TRIGGER_TOKEN_PLACEHOLDER,
    triggerEventPattern,
    triggerInputTemplate,
    validatePipelineTriggerArgs,
} from "../../components/pipelineTrigger";
import { runPolicyPack } from "../../offline-plan/policy-runner";
import { recordResources } from "../../offline-plan/run";
import { RecordedResource } from "../../offline-plan/types";
import { TOKEN_PLACEHOLDER } from "../../policies/security/rules/aws-events";
import { assertInvalid, inventory, one, policyDoc } from "../helpers/resources";

const BASE: PipelineTriggerArgs = {
    bucketName: "mlops-dev-raw-1234567",
    prefix: "credit-risk/",
    target: { kind: "github", repository: "acme/mlops-platform" },
};

async function render(args: PipelineTriggerArgs) {
    const rec = await recordResources(() => {
        const t = new PipelineTrigger("new-data", args);
        return { rule: t.ruleArn, connection: t.connectionName, secret: t.connectionSecretArn, dlq: t.deadLetterQueueUrl, alarm: t.alarmName, destination: t.apiDestinationArn };
    });
    return { resources: rec.resources.filter((r) => !r.type.startsWith("pulumi:providers:")), outputs: rec.outputs };
}

describe("PipelineTrigger", () => {
    let resources: RecordedResource[];
    let outputs: Record<string, any>;
    before(async () => ({ resources, outputs } = await render(BASE)));

    it("declares exactly the expected children: key, DLQ + policy, connection, API destination, role + policy, rule, target, alarm", () => {
        assert.deepEqual(
            inventory(resources),
            [
                "aws:cloudwatch/eventApiDestination:EventApiDestination new-data-destination",
                "aws:cloudwatch/eventConnection:EventConnection new-data-connection",
                "aws:cloudwatch/eventRule:EventRule new-data-rule",
                "aws:cloudwatch/eventTarget:EventTarget new-data-target",
                "aws:cloudwatch/metricAlarm:MetricAlarm new-data-dlq-alarm",
                "aws:iam/role:Role new-data-role",
                "aws:iam/rolePolicy:RolePolicy new-data-invoke",
                "aws:kms/key:Key new-data-key",
                "aws:sqs/queue:Queue new-data-dlq",
                "aws:sqs/queuePolicy:QueuePolicy new-data-dlq-policy",
                "mlops-platform:index:PipelineTrigger new-data",
            ].sort(),
        );
        const component = one(resources, "mlops-platform:index:PipelineTrigger", "new-data");
        for (const r of resources.filter((x) => x !== component)) assert.equal(r.parent, component.urn, `${r.name} is parented to the component`);
        assert.equal(outputs.rule, "arn:aws:events:us-east-1:123456789012:rule/new-data");
        assert.match(outputs.secret, /^arn:aws:secretsmanager:us-east-1:123456789012:secret:events!connection\/new-data\//);
        assert.match(outputs.dlq, /^https:\/\/sqs\.us-east-1\.amazonaws\.com\/123456789012\//);
    });

    it("matches only Object Created events of the raw bucket whose key is the batch marker below the prefix", () => {
        const rule = one(resources, "aws:cloudwatch/eventRule:EventRule", "new-data-rule").inputs;
        assert.equal(rule.name, "new-data");
        assert.deepEqual(JSON.parse(rule.eventPattern), {
            source: ["aws.s3"],
            "detail-type": ["Object Created"],
            detail: { bucket: { name: ["mlops-dev-raw-1234567"] }, object: { key: [{ wildcard: "credit-risk/*_manifest.json" }] } },
        });
        assert.equal(DEFAULT_MARKER_SUFFIX, "_manifest.json");
        // prefix only / suffix only / neither
        assert.deepEqual(triggerEventPattern("b", { prefix: "p/", suffix: "" }).detail, { bucket: { name: ["b"] }, object: { key: [{ prefix: "p/" }] } });
        assert.deepEqual(triggerEventPattern("b", { prefix: "", suffix: "_SUCCESS" }).detail, { bucket: { name: ["b"] }, object: { key: [{ suffix: "_SUCCESS" }] } });
        assert.deepEqual(JSON.parse(JSON.stringify(triggerEventPattern("b", { prefix: "", suffix: "" }).detail)), { bucket: { name: ["b"] } });
    });

    it("delivers a repository_dispatch body through an API destination, with bounded retries and a dead-letter queue", () => {
        const dest = one(resources, "aws:cloudwatch/eventApiDestination:EventApiDestination", "new-data-destination").inputs;
        assert.equal(dest.invocationEndpoint, "https://api.github.com/repos/acme/mlops-platform/dispatches");
        assert.equal(dest.httpMethod, "POST");
        assert.equal(dest.invocationRateLimitPerSecond, 1);
        const target = one(resources, "aws:cloudwatch/eventTarget:EventTarget", "new-data-target").inputs;
        assert.equal(target.rule, "new-data");
        assert.match(target.arn, /:api-destination\/new-data\//);
        assert.deepEqual(target.retryPolicy, { maximumRetryAttempts: 8, maximumEventAgeInSeconds: 3600 });
        assert.match(target.deadLetterConfig.arn, /^arn:aws:sqs:us-east-1:123456789012:/);
        assert.deepEqual(target.inputTransformer.inputPaths, TRIGGER_INPUT_PATHS);
        assert.equal(target.inputTransformer.inputTemplate, triggerInputTemplate(validatePipelineTriggerArgs("new-data", BASE)));
        assert.deepEqual(target.httpTarget.headerParameters, { Accept: "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28" });
    });

    it("keeps the token out of config and state: placeholder value, changes ignored, header per CI", async () => {
        const conn = one(resources, "aws:cloudwatch/eventConnection:EventConnection", "new-data-connection");
        assert.equal(conn.inputs.authorizationType, "API_KEY");
        assert.deepEqual(conn.inputs.authParameters.apiKey, { key: "Authorization", value: TRIGGER_TOKEN_PLACEHOLDER });
        assert.deepEqual(conn.ignoreChanges, ["authParameters.apiKey.value"]);
        // The token's secret on the trigger's key, which carries the tag EventBridge's service-linked
        // role requires and lets the deploying role use it only through Secrets Manager.
        const keyRes = one(resources, "aws:kms/key:Key", "new-data-key");
        assert.equal(conn.inputs.kmsKeyIdentifier, keyRes.outputs.arn, "the trigger's own key");
        assert.match(conn.inputs.kmsKeyIdentifier, /^arn:aws:kms:us-east-1:123456789012:key\//);
        assert.equal(keyRes.inputs.tags[EVENTBRIDGE_CONNECTION_KEY_TAG], "true");
        const ciDeny = policyDoc(keyRes).Statement.find((st: any) => st.Sid === "CiRolesNeverUseTheKey");
        assert.deepEqual(ciDeny.Condition.StringNotEquals, { "kms:ViaService": ["secretsmanager.us-east-1.amazonaws.com"] });
        assert.equal(TRIGGER_TOKEN_PLACEHOLDER, TOKEN_PLACEHOLDER, "the security pack accepts exactly the component's placeholder");
        const gitlab = await render({ ...BASE, target: { kind: "gitlab", projectId: 42 } });
        const gconn = one(gitlab.resources, "aws:cloudwatch/eventConnection:EventConnection", "new-data-connection").inputs;
        assert.equal(gconn.authParameters.apiKey.key, "PRIVATE-TOKEN");
        const gdest = one(gitlab.resources, "aws:cloudwatch/eventApiDestination:EventApiDestination", "new-data-destination").inputs;
        assert.equal(gdest.invocationEndpoint, "https://gitlab.com/api/v4/projects/42/pipeline");
        const gtarget = one(gitlab.resources, "aws:cloudwatch/eventTarget:EventTarget", "new-data-target").inputs;
        const body = JSON.parse(gtarget.inputTransformer.inputTemplate.replace(/<[A-Za-z]+>/g, "x"));
        assert.equal(body.ref, "main");
        assert.deepEqual(body.variables.map((v: any) => v.key), ["MLOPS_TRIGGER", "MLOPS_DATA_BUCKET", "MLOPS_MARKER_KEY", "MLOPS_MARKER_VERSION_ID", "MLOPS_EVENT_TIME", "MLOPS_EVENT_ID"]);
    });

    it("lets only this rule write to the encrypted dead-letter queue and assume the invoke role", () => {
        const q = one(resources, "aws:sqs/queue:Queue", "new-data-dlq").inputs;
        assert.match(q.kmsMasterKeyId, /^arn:aws:kms:us-east-1:123456789012:key\//);
        assert.equal(q.messageRetentionSeconds, 14 * 86400);
        const qp = policyDoc(one(resources, "aws:sqs/queuePolicy:QueuePolicy", "new-data-dlq-policy"));
        const send = qp.Statement.find((s: any) => s.Sid === "EventBridgeDeadLetters");
        assert.deepEqual(send.Principal, { Service: "events.amazonaws.com" });
        assert.deepEqual(send.Condition, { ArnEquals: { "aws:SourceArn": "arn:aws:events:us-east-1:123456789012:rule/new-data" } });
        const key = policyDoc(one(resources, "aws:kms/key:Key", "new-data-key"));
        const ev = key.Statement.find((s: any) => s.Sid === "EventBridgeDeadLetters");
        assert.deepEqual(ev.Action, ["kms:GenerateDataKey", "kms:Decrypt"]);
        assert.deepEqual(ev.Condition, send.Condition);
        const role = one(resources, "aws:iam/role:Role", "new-data-role");
        const trust = JSON.parse(role.inputs.assumeRolePolicy);
        assert.deepEqual(trust.Statement[0].Condition, {
            StringEquals: { "aws:SourceAccount": "123456789012" },
            ArnEquals: { "aws:SourceArn": "arn:aws:events:us-east-1:123456789012:rule/new-data" },
        });
        const invoke = policyDoc(one(resources, "aws:iam/rolePolicy:RolePolicy", "new-data-invoke"));
        assert.deepEqual(invoke.Statement.map((s: any) => s.Action), ["events:InvokeApiDestination"]);
        assert.match(invoke.Statement[0].Resource, /:api-destination\/new-data\/[^/]+\/\*$/);
    });

    it("alarms when a delivery ends in the dead-letter queue", () => {
        const alarm = one(resources, "aws:cloudwatch/metricAlarm:MetricAlarm", "new-data-dlq-alarm").inputs;
        assert.equal(alarm.namespace, "AWS/SQS");
        assert.equal(alarm.metricName, "ApproximateNumberOfMessagesVisible");
        assert.equal(alarm.comparisonOperator, "GreaterThanThreshold");
        assert.equal(alarm.threshold, 0);
        assert.ok(alarm.dimensions.QueueName);
    });

    it("passes the security policy pack", async () => {
        const result = await runPolicyPack("security", resources, {});
        assert.deepEqual(result.violations.map((v) => `${v.policyName}: ${v.message}`), []);
    });

    it("validates its arguments, naming each bad property", () => {
        assertInvalid(() => validatePipelineTriggerArgs("t", { ...BASE, prefix: "raw/*/" }), "prefix");
        assertInvalid(() => validatePipelineTriggerArgs("t", { ...BASE, suffix: "a\\b" }), "suffix");
        assertInvalid(() => validatePipelineTriggerArgs("t", { ...BASE, target: { kind: "github", repository: "no-slash" } }), "target.repository");
        assertInvalid(() => validatePipelineTriggerArgs("t", { ...BASE, target: { kind: "gitlab", projectId: 0 } }), "target.projectId");
        assertInvalid(() => validatePipelineTriggerArgs("t", { ...BASE, target: { kind: "bitbucket" } as any }), "target.kind");
        assertInvalid(() => validatePipelineTriggerArgs("t", { ...BASE, target: { kind: "github", repository: "a/b", apiUrl: "http://insecure" } }), "target.apiUrl");
        assertInvalid(() => validatePipelineTriggerArgs("t", { ...BASE, retry: { maximumRetryAttempts: 186 } }), "retry.maximumRetryAttempts");
        assertInvalid(() => validatePipelineTriggerArgs("t", { ...BASE, retry: { maximumEventAgeSeconds: 30 } }), "retry.maximumEventAgeSeconds");
        assertInvalid(() => validatePipelineTriggerArgs("t", { ...BASE, dlqRetentionDays: 15 }), "dlqRetentionDays");
        assertInvalid(() => validatePipelineTriggerArgs("t", { ...BASE, invocationRateLimitPerSecond: 0 }), "invocationRateLimitPerSecond");
        assertInvalid(() => validatePipelineTriggerArgs("t", { ...BASE, namePrefix: "has space" }), "namePrefix");
        assertInvalid(() => validatePipelineTriggerArgs("t", { ...BASE, bucketName: "" }), "bucketName");
    });
});
