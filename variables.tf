################################################################################
# Naming
################################################################################

variable "prefix" {
  description = "Prefix of every resource name, e.g. `dev` gives `dev-runpod-callbacks` and `dev-runpod-webhook`."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$", var.prefix))
    error_message = "prefix must be 1-32 lowercase letters, digits or hyphens, starting and ending with a letter or digit."
  }
}

variable "tags" {
  description = "Tags added to every resource the module creates."
  type        = map(string)
  default     = {}
}

################################################################################
# Functions (settings of every function of the module)
################################################################################

variable "lambda_runtime" {
  description = "Python runtime of every function of the module: `python3.12`, `python3.13` or `python3.14` (hashicorp/aws 6.20 or newer; 5.x rejects it). The Powertools layer is chosen to match it; AWS publishes it for these runtimes."
  type        = string
  default     = "python3.13"

  validation {
    condition     = contains(["python3.12", "python3.13", "python3.14"], var.lambda_runtime)
    error_message = "lambda_runtime must be python3.12, python3.13 or python3.14: the Python runtimes of Lambda this module supports for which AWS publishes the Powertools v3 layer."
  }
}

variable "lambda_architecture" {
  description = "Instruction set of every function of the module: `arm64` (cheaper, default) or `x86_64`."
  type        = string
  default     = "arm64"

  validation {
    condition     = contains(["arm64", "x86_64"], var.lambda_architecture)
    error_message = "lambda_architecture must be arm64 or x86_64."
  }
}

variable "lambda_memory_size" {
  description = "Memory of the webhook and the submit function in MB (CPU scales with it); the watchdog's is `watchdog.memory_size`."
  type        = number
  default     = 256

  validation {
    condition     = var.lambda_memory_size >= 128 && var.lambda_memory_size <= 10240
    error_message = "lambda_memory_size must be between 128 and 10240 MB."
  }
}

variable "log_level" {
  description = "Log level of every function of the module (`LOG_LEVEL`)."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

variable "tracing_enabled" {
  description = "Turn on X-Ray for every function of the module and the API stage. The functions then import the tracer (about 0.2 s more cold start)."
  type        = bool
  default     = false
}

variable "powertools_layer_arn" {
  description = "ARN of the Powertools for AWS Lambda (Python) v3 layer of every function of the module. Null picks the AWS-managed layer for the region, runtime and architecture."
  type        = string
  default     = null
}

variable "powertools_layer_version" {
  description = "Version of the AWS-managed Powertools v3 layer, used when `powertools_layer_arn` is null: a version number (pinned: every plan gives the same functions), or `latest` to follow the version AWS publishes in the public SSM parameter `/aws/service/powertools/python/<architecture>/<runtime>/latest` (each plan reads it: a new release updates the functions on the next apply; the planner needs `ssm:GetParameter` on it)."
  type        = string
  default     = "27"

  validation {
    condition     = can(regex("^([1-9][0-9]*|latest)$", var.powertools_layer_version))
    error_message = "powertools_layer_version must be a layer version number (e.g. 27) or \"latest\"."
  }
}

################################################################################
# Webhook function
################################################################################

variable "webhook_timeout" {
  description = "Timeout of the webhook function in seconds. Its AWS calls are bounded to fit in 25 s; API Gateway gives up after 29 s."
  type        = number
  default     = 25

  validation {
    condition     = var.webhook_timeout >= 10 && var.webhook_timeout <= 29
    error_message = "webhook_timeout must be between 10 and 29 seconds (API Gateway's integration timeout)."
  }
}

variable "webhook_reserved_concurrency" {
  description = "Reserved concurrent executions of the webhook function; null leaves it unreserved."
  type        = number
  default     = null

  validation {
    condition     = var.webhook_reserved_concurrency == null || try(var.webhook_reserved_concurrency >= 1, false)
    error_message = "webhook_reserved_concurrency must be null or at least 1 (0 would disable the webhook)."
  }
}

################################################################################
# Table
################################################################################

variable "table" {
  description = "Callback table settings: `kms_key_arn` (null uses an AWS-owned key), `point_in_time_recovery`, `deletion_protection`."
  type = object({
    kms_key_arn            = optional(string)
    point_in_time_recovery = optional(bool, true)
    deletion_protection    = optional(bool, false)
  })
  default = {}
}

################################################################################
# API
################################################################################

variable "api_stage_name" {
  description = "Name of the API Gateway stage; it appears in `webhook_base_url`."
  type        = string
  default     = "v1"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,128}$", var.api_stage_name))
    error_message = "api_stage_name may contain only letters, digits, hyphens and underscores."
  }
}

variable "api_access_logs_enabled" {
  description = "Write the stage's access logs (one JSON line per request) to the log group `/aws/apigateway/<prefix>-runpod-webhook/<stage>/access`, which the module creates. Like execution logging (`api_logging_level`), this needs the region's API Gateway CloudWatch Logs role (see `create_api_gateway_cloudwatch_role`); without that role, set it false and `api_logging_level` to `OFF`."
  type        = bool
  default     = true
}

variable "api_logging_level" {
  description = "API Gateway execution logging: `OFF` or `ERROR`. `ERROR` needs the region's API Gateway CloudWatch Logs role (see `create_api_gateway_cloudwatch_role`). `INFO` is refused: it logs each request's path, and the path holds the callback token, the webhook's only credential."
  type        = string
  default     = "ERROR"

  validation {
    condition     = contains(["OFF", "ERROR"], var.api_logging_level)
    error_message = "api_logging_level must be OFF or ERROR: INFO would log every request's path, and the path holds the callback token, which lets anyone who reads the logs post a result."
  }
}

variable "api_throttling" {
  description = "Stage-wide throttling of the webhook route, a token bucket: `burst_limit` requests at once, refilled at `rate_limit` requests per second; over it API Gateway answers 429 and RunPod retries (twice, 10 s apart). The defaults let 1,000 webhooks arriving together (a full Map on one endpoint) through within RunPod's first two tries, and sustain 100/s, what one endpoint's `/run` limit allows; scale both with the number of endpoints (docs/scale.md)."
  type = object({
    burst_limit = optional(number, 500)
    rate_limit  = optional(number, 100)
  })
  default = {}

  validation {
    condition     = var.api_throttling.burst_limit >= 1 && var.api_throttling.rate_limit > 0
    error_message = "api_throttling limits must be positive."
  }
}

variable "create_api_gateway_cloudwatch_role" {
  description = "Create the IAM role `<prefix>-apigw-logs-<region>` (AWS-managed policy `AmazonAPIGatewayPushToCloudWatchLogs`) and make it the region's API Gateway CloudWatch Logs role (`aws_api_gateway_account`), which access and execution logs need. That setting is a region-wide singleton of the account, not of this API: the last writer wins, so another stack that sets it overrides this one and the other way round, and every API in the region logs through the role set last. Destroying it (or turning this off) resets the setting with hashicorp/aws 6.x and leaves it naming the deleted role with 5.x: either way logging stops for every API in the region. Turn it on only in an account where nothing else manages the setting (`aws apigateway get-account` shows no `cloudWatchRoleArn`)."
  type        = bool
  default     = false
}

variable "waf_web_acl_arn" {
  description = "ARN of a regional WAFv2 web ACL to associate with the API stage; null for none."
  type        = string
  default     = null
}

################################################################################
# Logs
################################################################################

variable "logs_retention_in_days" {
  description = "Retention of every log group of the module: each function's and the API's access logs."
  type        = number
  default     = 30

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.logs_retention_in_days)
    error_message = "logs_retention_in_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ...)."
  }
}

variable "logs_kms_key_arn" {
  description = "KMS key ARN to encrypt every log group of the module; null uses CloudWatch Logs' own encryption."
  type        = string
  default     = null
}

################################################################################
# Alarms
################################################################################

variable "alarms" {
  description = "CloudWatch alarms on the webhook function's errors and throttles, on API 5xx and, with the watchdog, on its errors, on results it recovered (webhooks are being lost), on jobs lost before anyone fetched them, on stale records a run could not reach (`WatchdogBehind`) or RunPod did not answer for (`RunPodUnanswered`), on records or steps a run failed on (`WatchdogErrors`) and on a job waiting longer than `oldest_wait_seconds` (24 h by default, RunPod's default `ttl`: set it to a few times your jobs' usual time); they notify `sns_topic_arns`."
  type = object({
    enabled             = optional(bool, false)
    sns_topic_arns      = optional(list(string), [])
    oldest_wait_seconds = optional(number, 86400)
  })
  default = {}

  validation {
    condition     = var.alarms.oldest_wait_seconds >= 60
    error_message = "alarms.oldest_wait_seconds must be at least 60."
  }
}

################################################################################
# Submit function
################################################################################

variable "create_submit_function" {
  description = "Create the submit function `<prefix>-runpod-submit`. Null creates it when `runpod_api_key_secret_arn` is set; set true when that secret is created in the same apply (its ARN is unknown at plan time)."
  type        = bool
  default     = null
}

variable "runpod_api_key_secret_arn" {
  description = "ARN of a Secrets Manager secret holding the RunPod API key (the key itself, or JSON with `api_key`), read by the submit function and the watchdog."
  type        = string
  default     = null

  validation {
    condition     = var.runpod_api_key_secret_arn == null || can(regex("^arn:[^:]+:secretsmanager:", var.runpod_api_key_secret_arn))
    error_message = "runpod_api_key_secret_arn must be a Secrets Manager secret ARN."
  }
}

variable "runpod_api_key_kms_key_arn" {
  description = "ARN of the customer-managed KMS key encrypting the API key secret; null when it uses the AWS-managed key."
  type        = string
  default     = null
}

variable "runpod_api_base_url" {
  description = "Base URL of RunPod's serverless API; the submit function POSTs to `<base>/<endpoint_id>/run`, the watchdog calls `/status` and `/cancel` there."
  type        = string
  default     = "https://api.runpod.ai/v2"

  validation {
    condition     = startswith(var.runpod_api_base_url, "https://")
    error_message = "runpod_api_base_url must be an https URL: the API key travels with every request."
  }
}

variable "submit_timeout" {
  description = "Timeout of the submit function in seconds. RunPod's /run is tried up to 3 times (10 s each at most) while the time left still fits the job id's writes; 48 s fits the API key's read, the record's write, one try and those writes."
  type        = number
  default     = 60

  validation {
    condition     = var.submit_timeout >= 48 && var.submit_timeout <= 900
    error_message = "submit_timeout must be between 48 and 900 seconds: below 48 the function could run out of time before it answers with a typed error."
  }
}

################################################################################
# Watchdog
################################################################################

variable "watchdog" {
  description = "The watchdog `<prefix>-runpod-watchdog`, run on a schedule, recovers results whose webhooks were lost, heartbeats running jobs and cancels jobs nobody waits for. `enabled` (null: whenever the submit function is created; it needs the RunPod API key), `schedule_expression` (`rate(1 minute)` to `rate(10 minutes)`, or a `cron(...)` expression whose longest gap you keep well under RunPod's 30-minute result retention), `stale_after_seconds` (a PENDING record younger than this is left to the webhook), `max_records_per_run` (the most stale records one run takes; more are counted `WatchdogBehind` and come first next run), the function's `timeout` in seconds (it stops taking records 30 s before it) and `memory_size` in MB (CPU scales with it: with the defaults one run settled 10,000 records of one endpoint in 74–77 s in `make scale`, docs/scale.md)."
  type = object({
    enabled             = optional(bool)
    schedule_expression = optional(string, "rate(2 minutes)")
    stale_after_seconds = optional(number, 60)
    max_records_per_run = optional(number, 25000)
    timeout             = optional(number, 120)
    memory_size         = optional(number, 1024)
  })
  default = {}

  validation {
    condition     = can(regex("^(rate\\((1 minute|([2-9]|10) minutes)\\)|cron\\([^()]+\\))$", var.watchdog.schedule_expression))
    error_message = "watchdog.schedule_expression must be rate(1 minute) or rate(N minutes) with N up to 10 (RunPod keeps a result 30 minutes), or a cron(...) expression."
  }

  validation {
    condition     = var.watchdog.stale_after_seconds >= 30 && floor(var.watchdog.stale_after_seconds) == var.watchdog.stale_after_seconds
    error_message = "watchdog.stale_after_seconds must be a whole number of at least 30: RunPod's own webhook deliveries span about 20 s."
  }

  validation {
    condition     = var.watchdog.max_records_per_run >= 1 && var.watchdog.max_records_per_run <= 100000 && floor(var.watchdog.max_records_per_run) == var.watchdog.max_records_per_run
    error_message = "watchdog.max_records_per_run must be a whole number from 1 to 100000."
  }

  validation {
    condition     = var.watchdog.timeout >= 60 && var.watchdog.timeout <= 900
    error_message = "watchdog.timeout must be between 60 and 900 seconds: a run stops taking records 30 s before its timeout, so the records it takes can finish."
  }

  validation {
    condition     = var.watchdog.memory_size >= 512 && var.watchdog.memory_size <= 10240
    error_message = "watchdog.memory_size must be between 512 and 10240 MB: a run reads RunPod's answers on up to 480 threads at once."
  }
}

################################################################################
# Canceller
################################################################################

variable "cancel_on_stop" {
  description = "Cancel the RunPod jobs of an execution at once when it stops (ABORTED, TIMED_OUT, FAILED), instead of at the watchdog's next sweep: the state machines to watch, by ARN (`state_machine_arns`; a Distributed Map's children included) or by name prefix in this account and region (`state_machine_name_prefixes`). Either creates the canceller `<prefix>-runpod-canceller` and an EventBridge rule on Step Functions' status change events (standard workflows; Express ones emit none). Needs the watchdog (the RunPod API key), and the job's `execution_arn` in the submit function's payload (`$$.Execution.Id`)."
  type = object({
    state_machine_arns          = optional(list(string), [])
    state_machine_name_prefixes = optional(list(string), [])
  })
  default = {}

  validation {
    condition     = alltrue([for arn in var.cancel_on_stop.state_machine_arns : can(regex("^arn:[^:]+:states:[^:]+:[0-9]{12}:stateMachine:.+$", arn))])
    error_message = "cancel_on_stop.state_machine_arns must be state machine ARNs (arn:<partition>:states:<region>:<account>:stateMachine:<name>)."
  }

  validation {
    condition     = alltrue([for prefix in var.cancel_on_stop.state_machine_name_prefixes : can(regex("^[A-Za-z0-9_-]+$", prefix))])
    error_message = "cancel_on_stop.state_machine_name_prefixes must be the beginnings of state machine names (letters, digits, - and _)."
  }
}

################################################################################
# Costs and dashboard
################################################################################

variable "gpu_price_per_second" {
  description = "RunPod's price in USD per second of worker time, by endpoint id (`*` for every other endpoint). With it, each ended job's record and the `EstimatedGpuCost` metric carry its `executionTime` times that price. RunPod also bills cold starts and idle workers, which belong to no job: the estimate is below its bill (docs/operations.md)."
  type        = map(number)
  default     = {}

  validation {
    condition     = alltrue([for price in values(var.gpu_price_per_second) : price >= 0])
    error_message = "gpu_price_per_second prices must be zero or more (USD a second)."
  }
}

variable "dashboard_enabled" {
  description = "Create the CloudWatch dashboard `<prefix>-runpod-webhook` (output `dashboard_url`): deliveries by outcome, RunPod's times, the watchdog, the oldest wait, the API and each function. CloudWatch bills $3 a month per dashboard beyond an account's first three."
  type        = bool
  default     = true
}

################################################################################
# Large outputs
################################################################################

variable "large_outputs" {
  description = "Results over Step Functions' 256 KiB written to S3 instead of failing with `RunPod.OutputTooLarge`: the task gets `output_s3` (`bucket`, `key`, `uri`, `size_bytes`, `sha256`) in place of `output`. `enabled`; `bucket_name`: null creates a private bucket `<prefix>-runpod-results-<account id>-<region>`, a name uses that bucket and creates nothing; `key_prefix` of the objects (empty, or ending in `/`); `expiration_days` after which the module's bucket deletes them; `kms_key_arn`: the customer-managed key of the bucket's default encryption (the module's bucket is encrypted with it, with SSE-S3 when null; for your own bucket, the key it uses), which the functions may use to write and state machines to read."
  type = object({
    enabled         = optional(bool, false)
    bucket_name     = optional(string)
    key_prefix      = optional(string, "runpod-results/")
    expiration_days = optional(number, 7)
    kms_key_arn     = optional(string)
  })
  default = {}

  validation {
    condition = (
      var.large_outputs.bucket_name == null ||
      (
        can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.large_outputs.bucket_name)) &&
        !can(regex("\\.\\.|^[0-9]+\\.[0-9]+\\.[0-9]+\\.[0-9]+$|^(xn--|sthree-|amzn-s3-demo-)|(-s3alias|--ol-s3|\\.mrap|--x-s3|--table-s3)$", var.large_outputs.bucket_name))
      )
    )
    error_message = "large_outputs.bucket_name must be an S3 bucket name: 3-63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit, without '..', not an IP address, without a reserved prefix or suffix."
  }

  validation {
    condition = (
      can(regex("^([A-Za-z0-9!_.'()-]+/)*$", var.large_outputs.key_prefix)) &&
      !can(regex("(^|/)\\.{1,2}/", var.large_outputs.key_prefix)) &&
      length(var.large_outputs.key_prefix) <= 512
    )
    error_message = "large_outputs.key_prefix must be empty or folders ending in '/' (e.g. runpod-results/), made of letters, digits and ! _ . ' ( ) -, no '.' or '..' folder, at most 512 characters (object keys add up to 497 more and end under S3's 1,024)."
  }

  validation {
    condition     = var.large_outputs.expiration_days >= 1 && floor(var.large_outputs.expiration_days) == var.large_outputs.expiration_days
    error_message = "large_outputs.expiration_days must be a whole number of at least 1."
  }

  validation {
    condition     = var.large_outputs.kms_key_arn == null || can(regex("^arn:[a-z-]+:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$", var.large_outputs.kms_key_arn))
    error_message = "large_outputs.kms_key_arn must be a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<id>), not an alias: IAM grants the roles use of the key by its ARN."
  }
}
