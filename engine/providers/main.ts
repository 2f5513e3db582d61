// Entry point of the mock provider plugins: `node dist/engine/providers/main.js <package> [engine args...]`
// (the wrappers in engine/providers/bin and the ones installMockProviders generates run this).
import { serveMockProvider } from "./serve";

const [pkg, ...args] = process.argv.slice(2);
serveMockProvider(pkg ?? "", args).catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(1);
});
