export { BatchLoop, type BatchLoopOptions } from "./batch-loop.ts";
export { type JobMetrics, jobMetrics } from "./job-metrics.ts";
export {
  type JobReport,
  JobRunner,
  type JobRunnerOptions,
  type JobSpec,
  type JobStatus,
  type RunResult,
} from "./job-runner.ts";
