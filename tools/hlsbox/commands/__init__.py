"""The commands around the step runs: plan, fit, csim, model, doctor, sweep, image."""
