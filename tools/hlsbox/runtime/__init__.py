"""Running a step: container engines, images and toolchains, the request, the runner, the step table,
progress and tables."""
