// Preloaded (`node --require`) into the policy pack processes `mlops plan` spawns: their stdin is a
// pipe from the parent, which the OS closes however the parent ends (exit, signal, SIGKILL, crash).
// On that end-of-file the pack exits, so no pack process outlives the plan that started it.
const exit = () => process.exit(0);
process.stdin.on("end", exit);
process.stdin.on("close", exit);
process.stdin.on("error", exit);
process.stdin.resume();
