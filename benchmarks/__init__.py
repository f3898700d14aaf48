"""The benchmark runner: ``python -m benchmarks`` (or ``python3 dev.py bench``).

Each scenario runs in a process of its own; variants that are compared with each other
(bare app, with the middleware, with OpenTelemetry, the raw signatures) are measured
interleaved, round after round, in that one process, so that a noisy machine slows them
alike and their ratios stay meaningful. The runner prints medians and ratios.
"""
