# The exchange keys: one Secrets Manager secret under a customer-managed KMS key, rotated by a
# Lambda at least every 30 days. Only the trading engines' IAM role (through their Kubernetes
# service account, IRSA) and the rotation Lambda may read it; the secret's own policy denies
# everyone else, whatever their IAM policies say.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  account   = data.aws_caller_identity.current.account_id
  partition = data.aws_partition.current.partition
  readers   = [aws_iam_role.engine.arn, aws_iam_role.rotation.arn]
}

data "aws_iam_policy_document" "key" {
  # A key policy: "Resource *" means this key, and the account root holding kms:* is what lets IAM
  # policies grant use of the key at all (AWS's default key policy).
  #checkov:skip=CKV_AWS_109:key policy, not an IAM policy: Resource * is this key only
  #checkov:skip=CKV_AWS_111:key policy, not an IAM policy: Resource * is this key only
  #checkov:skip=CKV_AWS_356:key policy, not an IAM policy: Resource * is this key only
  statement {
    sid       = "AccountAdministers"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account}:root"]
    }
  }
}

resource "aws_kms_key" "exchange_keys" {
  description             = "${var.name}: exchange API keys"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.key.json
}

resource "aws_kms_alias" "exchange_keys" {
  name          = "alias/${var.name}-exchange-keys"
  target_key_id = aws_kms_key.exchange_keys.key_id
}

resource "aws_secretsmanager_secret" "exchange_keys" {
  name                    = "${var.name}/exchange-keys"
  description             = "Exchange API keys of the trading engines"
  kms_key_id              = aws_kms_key.exchange_keys.arn
  recovery_window_in_days = 30
}

# The key admin's token (`{"admin_token": ...}`), read by the rotation Lambda only. Set by an operator;
# the key admin issues it, so this Lambda cannot rotate it.
resource "aws_secretsmanager_secret" "key_admin" {
  #checkov:skip=CKV2_AWS_57:issued by the key admin itself; replaced by hand when the admin reissues it
  name                    = "${var.name}/key-admin"
  description             = "Token of the venue key admin used by the exchange-key rotation Lambda"
  kms_key_id              = aws_kms_key.exchange_keys.arn
  recovery_window_in_days = 30
}

data "aws_iam_policy_document" "secret" {
  statement {
    sid       = "OnlyEnginesAndRotationRead"
    effect    = "Deny"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["*"]
    }
    condition {
      test     = "StringNotEquals"
      variable = "aws:PrincipalArn"
      values   = local.readers
    }
  }
}

resource "aws_secretsmanager_secret_policy" "exchange_keys" {
  secret_arn = aws_secretsmanager_secret.exchange_keys.arn
  policy     = data.aws_iam_policy_document.secret.json
}

resource "aws_secretsmanager_secret_rotation" "exchange_keys" {
  #checkov:skip=CKV_AWS_304:checkov cannot resolve var.rotation_days through the module call; the variable is validated to 1..30 days and tests/deploy/test_terraform.py proves every environment passes <= 30
  secret_id           = aws_secretsmanager_secret.exchange_keys.id
  rotation_lambda_arn = aws_lambda_function.rotation.arn

  rotation_rules {
    automatically_after_days = var.rotation_days
  }
}

# ---- the engines' role (IRSA) ------------------------------------------------------------------------

data "aws_iam_policy_document" "engine_assume" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [var.oidc_provider_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${var.oidc_issuer}:aud"
      values   = ["sts.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "${var.oidc_issuer}:sub"
      values   = [for account in var.engine_service_accounts : "system:serviceaccount:${account}"]
    }
  }
}

resource "aws_iam_role" "engine" {
  name               = "${var.name}-engine"
  assume_role_policy = data.aws_iam_policy_document.engine_assume.json
}

data "aws_iam_policy_document" "engine" {
  statement {
    sid       = "ReadExchangeKeys"
    actions   = ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    resources = [aws_secretsmanager_secret.exchange_keys.arn]
  }
  statement {
    sid       = "DecryptThroughSecretsManager"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.exchange_keys.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${data.aws_region.current.name}.amazonaws.com"]
    }
  }
}

data "aws_region" "current" {}

resource "aws_iam_role_policy" "engine" {
  name   = "read-exchange-keys"
  role   = aws_iam_role.engine.id
  policy = data.aws_iam_policy_document.engine.json
}

# ---- the rotation Lambda -----------------------------------------------------------------------------

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "rotation" {
  name               = "${var.name}-exchange-key-rotation"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

resource "aws_iam_role_policy_attachment" "rotation_vpc" {
  role       = aws_iam_role.rotation.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
}

data "aws_iam_policy_document" "rotation" {
  statement {
    sid = "RotateThisSecretOnly"
    actions = [
      "secretsmanager:DescribeSecret",
      "secretsmanager:GetSecretValue",
      "secretsmanager:PutSecretValue",
      "secretsmanager:UpdateSecretVersionStage",
    ]
    resources = [aws_secretsmanager_secret.exchange_keys.arn]
  }
  statement {
    sid       = "ReadTheKeyAdminToken"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.key_admin.arn]
  }
  statement {
    sid       = "UseTheKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.exchange_keys.arn]
  }
  statement {
    sid       = "DeadLetters"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.rotation_dead_letters.arn]
  }
}

resource "aws_iam_role_policy" "rotation" {
  name   = "rotate-exchange-keys"
  role   = aws_iam_role.rotation.id
  policy = data.aws_iam_policy_document.rotation.json
}

resource "aws_security_group" "rotation" {
  name        = "${var.name}-exchange-key-rotation"
  description = "Rotation Lambda: HTTPS out to the VPC endpoints and the venues, nothing in"
  vpc_id      = var.vpc_id

  egress {
    description = "HTTPS to Secrets Manager and KMS endpoints, and to the venues through NAT"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_sqs_queue" "rotation_dead_letters" {
  name                      = "${var.name}-exchange-key-rotation-dlq"
  kms_master_key_id         = aws_kms_key.exchange_keys.arn
  message_retention_seconds = 1209600
}

resource "aws_signer_signing_profile" "rotation" {
  platform_id = "AWSLambda-SHA384-ECDSA"
  name_prefix = "tradestack_rotation_"
}

resource "aws_lambda_code_signing_config" "rotation" {
  allowed_publishers {
    signing_profile_version_arns = [aws_signer_signing_profile.rotation.version_arn]
  }
  policies {
    untrusted_artifact_on_deployment = "Enforce"
  }
}

resource "aws_cloudwatch_log_group" "rotation" {
  name              = "/aws/lambda/${var.name}-exchange-key-rotation"
  retention_in_days = 365
  kms_key_id        = var.logs_kms_key_arn
}

resource "aws_lambda_function" "rotation" {
  function_name                  = "${var.name}-exchange-key-rotation"
  role                           = aws_iam_role.rotation.arn
  runtime                        = "python3.11"
  handler                        = "tradestack_rotation.handler"
  filename                       = var.rotation_package
  source_code_hash               = filebase64sha256(var.rotation_package)
  timeout                        = 60
  reserved_concurrent_executions = 1 # never two rotations of one secret at once
  kms_key_arn                    = aws_kms_key.exchange_keys.arn
  code_signing_config_arn        = aws_lambda_code_signing_config.rotation.arn

  vpc_config {
    subnet_ids         = var.private_subnet_ids
    security_group_ids = [aws_security_group.rotation.id]
  }

  tracing_config {
    mode = "Active"
  }

  dead_letter_config {
    target_arn = aws_sqs_queue.rotation_dead_letters.arn
  }

  # Addresses only: the key admin's token is itself a secret, read at run time (app/rotation_lambda.py).
  environment {
    variables = {
      SECRETS_MANAGER_ENDPOINT  = "https://secretsmanager.${data.aws_region.current.name}.amazonaws.com"
      KEY_ADMIN                 = var.key_admin
      KEY_ADMIN_URL             = var.key_admin_url
      KEY_ADMIN_TOKEN_SECRET_ID = aws_secretsmanager_secret.key_admin.name
      KEY_IP_WHITELIST          = join(",", var.key_ip_whitelist)
    }
  }

  depends_on = [aws_cloudwatch_log_group.rotation, aws_iam_role_policy_attachment.rotation_vpc]
}

resource "aws_lambda_permission" "secrets_manager" {
  statement_id   = "SecretsManagerRotates"
  action         = "lambda:InvokeFunction"
  function_name  = aws_lambda_function.rotation.function_name
  principal      = "secretsmanager.amazonaws.com"
  source_account = local.account
}
