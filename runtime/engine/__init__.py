"""The hop engine: turns interpreter outcomes into hops, task messages, timers and history."""
