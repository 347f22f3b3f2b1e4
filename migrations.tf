################################################################################
# Migrations: v0.1 -> names by role
# The webhook function's resources were `this` (its log group `lambda`); a state created by
# v0.1 plans these as moves, with nothing destroyed or created.
################################################################################

moved {
  from = aws_lambda_function.this
  to   = aws_lambda_function.webhook
}

moved {
  from = aws_cloudwatch_log_group.lambda
  to   = aws_cloudwatch_log_group.webhook
}

moved {
  from = aws_iam_role.this
  to   = aws_iam_role.webhook
}

moved {
  from = aws_iam_role_policy.this
  to   = aws_iam_role_policy.webhook
}

################################################################################
# Migrations: access logs switchable (api_access_logs_enabled)
# The access log group became counted; a state from before keeps it as the one instance.
################################################################################

moved {
  from = aws_cloudwatch_log_group.api_access
  to   = aws_cloudwatch_log_group.api_access[0]
}
