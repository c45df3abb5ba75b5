# The staging environment: one VPC, one EKS cluster, the exchange-key secret and the audit trail.
# Its cluster runs the `paper` overlay of deploy/k8s.

terraform {
  required_version = ">= 1.6"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.80"
    }
    tls = {
      source  = "hashicorp/tls"
      version = "~> 4.0"
    }
  }

  # Created once by hand (docs/deploy.md): versioned, encrypted, with S3 native state locking.
  backend "s3" {
    bucket       = "tradestack-terraform-state-111111111111"
    key          = "staging/terraform.tfstate"
    region       = "eu-west-1"
    encrypt      = true
    use_lockfile = true
  }
}

provider "aws" {
  region              = var.region
  allowed_account_ids = ["111111111111"]

  default_tags {
    tags = {
      project     = "tradestack"
      environment = "staging"
      managed-by  = "terraform"
    }
  }
}

locals {
  name = "tradestack-staging"
}

module "audit" {
  source = "../../modules/audit"
  name   = local.name
}

module "network" {
  source             = "../../modules/network"
  name               = local.name
  cidr_block         = "10.40.0.0/16"
  availability_zones = var.availability_zones
  kms_key_arn        = module.audit.logs_kms_key_arn
}

module "eks" {
  source             = "../../modules/eks"
  name               = local.name
  kubernetes_version = "1.32"
  vpc_id             = module.network.vpc_id
  vpc_cidr           = module.network.cidr_block
  private_subnet_ids = module.network.private_subnet_ids
  logs_kms_key_arn   = module.audit.logs_kms_key_arn
  node_groups = {
    trading_size    = 2
    risk_size       = 1
    monitoring_size = 1
  }
}

module "secrets" {
  source                  = "../../modules/secrets"
  name                    = local.name
  rotation_days           = 30
  engine_service_accounts = ["tradestack-paper:trading-engine"]
  oidc_provider_arn       = module.eks.oidc_provider_arn
  oidc_issuer             = module.eks.oidc_issuer
  vpc_id                  = module.network.vpc_id
  vpc_cidr                = module.network.cidr_block
  private_subnet_ids      = module.network.private_subnet_ids
  rotation_package        = var.rotation_package
  logs_kms_key_arn        = module.audit.logs_kms_key_arn
  key_admin               = "binance"
  key_ip_whitelist        = module.network.nat_public_ips
}
