// Unit test of the consumer program under the package's provider-shaped mocks (mlops-platform/testing).
import * as assert from "node:assert/strict";
import { setProviderMocks, valueOf } from "mlops-platform/testing";

async function main(): Promise<void> {
    const mocks = setProviderMocks({ project: "fraud-platform", stack: "dev" });
    // The program is loaded after the mocks are installed (its resources register on load).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const program: typeof import("./index") = require("./index");
    const urls = await valueOf(program.repositoryUrls);
    assert.match(urls.trainer, /^123456789012\.dkr\.ecr\.us-east-1\.amazonaws\.com\/fraud-dev\/trainer$/);
    assert.match(await valueOf(program.rawBucket), /^fraud-data-raw/);
    assert.match(await valueOf(program.dvcRemote), /^s3:\/\//);
    assert.equal(program.gateOfLastRun, true);
    console.log(`consumer example: ok (${mocks.calls.length} invokes answered, trainer repository ${urls.trainer})`);
}

main().catch((e) => {
    console.error(e);
    process.exit(1);
});
