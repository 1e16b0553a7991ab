"""Pure code shared by the host and the image, hashed with steps/ into the step cache key: the contract,
parts, kernels, the estimator and planner, hls4ml's names. Standard library only."""
