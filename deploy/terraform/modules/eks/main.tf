# EKS with a private API endpoint, secrets envelope-encrypted with a customer-managed key, every
# control-plane log type, IRSA, and three managed node groups:
#   trading    c6in.xlarge in one cluster placement group (lowest node-to-node latency, highest
#              network rate), labelled node-type=trading and tainted so only trading pods land there;
#   risk       r6i.xlarge (memory for positions and limits of every shard);
#   monitoring t3.large (Prometheus, Alertmanager, Argo Rollouts).

data "aws_partition" "current" {}

locals {
  partition = data.aws_partition.current.partition
  groups = {
    trading = {
      instance_type = "c6in.xlarge"
      size          = var.node_groups.trading_size
      subnets       = [var.private_subnet_ids[0]] # a cluster placement group lives in one zone
      placement     = true
      taints        = [{ key = "node-type", value = "trading", effect = "NO_SCHEDULE" }]
    }
    risk = {
      instance_type = "r6i.xlarge"
      size          = var.node_groups.risk_size
      subnets       = var.private_subnet_ids
      placement     = false
      taints        = []
    }
    monitoring = {
      instance_type = "t3.large"
      size          = var.node_groups.monitoring_size
      subnets       = var.private_subnet_ids
      placement     = false
      taints        = []
    }
  }
}

# ---- keys and roles ----------------------------------------------------------------------------------

data "aws_caller_identity" "current" {}

data "aws_iam_policy_document" "cluster_key" {
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
      identifiers = ["arn:${local.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }
}

resource "aws_kms_key" "cluster" {
  description             = "${var.name}: EKS secrets envelope encryption"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.cluster_key.json
}

data "aws_iam_policy_document" "cluster_assume" {
  statement {
    actions = ["sts:AssumeRole", "sts:TagSession"]
    principals {
      type        = "Service"
      identifiers = ["eks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "cluster" {
  name               = "${var.name}-cluster"
  assume_role_policy = data.aws_iam_policy_document.cluster_assume.json
}

resource "aws_iam_role_policy_attachment" "cluster" {
  role       = aws_iam_role.cluster.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AmazonEKSClusterPolicy"
}

data "aws_iam_policy_document" "node_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "node" {
  name               = "${var.name}-node"
  assume_role_policy = data.aws_iam_policy_document.node_assume.json
}

resource "aws_iam_role_policy_attachment" "node" {
  for_each = toset([
    "AmazonEKSWorkerNodePolicy",
    "AmazonEKS_CNI_Policy",
    "AmazonEC2ContainerRegistryReadOnly",
  ])
  role       = aws_iam_role.node.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/${each.value}"
}

# ---- security groups ---------------------------------------------------------------------------------

resource "aws_security_group" "cluster" {
  name        = "${var.name}-control-plane"
  description = "EKS control plane: the API server, reached by the nodes only"
  vpc_id      = var.vpc_id
  tags        = { Name = "${var.name}-control-plane" }
}

resource "aws_security_group" "node" {
  name        = "${var.name}-nodes"
  description = "EKS nodes and their pods (VPC CNI): only the ports tradestack and Kubernetes use"
  vpc_id      = var.vpc_id
  tags        = { Name = "${var.name}-nodes" }
}

resource "aws_vpc_security_group_ingress_rule" "api_from_nodes" {
  security_group_id            = aws_security_group.cluster.id
  description                  = "Kubernetes API from kubelets and pods"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.node.id
}

resource "aws_vpc_security_group_egress_rule" "control_plane_to_kubelet" {
  security_group_id            = aws_security_group.cluster.id
  description                  = "API server to kubelets (logs, exec, probes) and admission webhooks"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 10250
  referenced_security_group_id = aws_security_group.node.id
}

locals {
  node_ingress = {
    kubelet  = { from = 10250, to = 10250, protocol = "tcp", source = "cluster", what = "kubelet API from the control plane" }
    webhooks = { from = 443, to = 443, protocol = "tcp", source = "cluster", what = "admission webhooks from the control plane" }
    dns_tcp  = { from = 53, to = 53, protocol = "tcp", source = "node", what = "CoreDNS between nodes" }
    dns_udp  = { from = 53, to = 53, protocol = "udp", source = "node", what = "CoreDNS between nodes" }
    http     = { from = 9490, to = 9491, protocol = "tcp", source = "node", what = "tradestack metrics, health and the risk API" }
    feed     = { from = 9500, to = 9500, protocol = "tcp", source = "node", what = "connector market data feed to engines" }
    scrape   = { from = 9090, to = 9093, protocol = "tcp", source = "node", what = "Prometheus and Alertmanager" }
    metrics  = { from = 10250, to = 10250, protocol = "tcp", source = "node", what = "kubelet metrics scraped by Prometheus" }
  }
  node_egress = {
    https   = { from = 443, to = 443, protocol = "tcp", cidr = "0.0.0.0/0", what = "venues (via NAT) and AWS APIs (via endpoints)" }
    okx_ws  = { from = 8443, to = 8443, protocol = "tcp", cidr = "0.0.0.0/0", what = "OKX WebSocket (via NAT): OKX serves wss only on 8443" }
    dns_tcp = { from = 53, to = 53, protocol = "tcp", cidr = var.vpc_cidr, what = "DNS inside the VPC" }
    dns_udp = { from = 53, to = 53, protocol = "udp", cidr = var.vpc_cidr, what = "DNS inside the VPC" }
    apps    = { from = 9090, to = 9500, protocol = "tcp", cidr = var.vpc_cidr, what = "tradestack and monitoring ports between pods" }
    kubelet = { from = 10250, to = 10250, protocol = "tcp", cidr = var.vpc_cidr, what = "kubelet metrics for Prometheus" }
  }
}

resource "aws_vpc_security_group_ingress_rule" "node" {
  for_each                     = local.node_ingress
  security_group_id            = aws_security_group.node.id
  description                  = each.value.what
  ip_protocol                  = each.value.protocol
  from_port                    = each.value.from
  to_port                      = each.value.to
  referenced_security_group_id = each.value.source == "cluster" ? aws_security_group.cluster.id : aws_security_group.node.id
}

resource "aws_vpc_security_group_egress_rule" "node" {
  for_each          = local.node_egress
  security_group_id = aws_security_group.node.id
  description       = each.value.what
  ip_protocol       = each.value.protocol
  from_port         = each.value.from
  to_port           = each.value.to
  cidr_ipv4         = each.value.cidr
}

# ---- the cluster -------------------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "cluster" {
  name              = "/aws/eks/${var.name}/cluster"
  retention_in_days = 365
  kms_key_id        = var.logs_kms_key_arn
}

resource "aws_eks_cluster" "this" {
  name     = var.name
  version  = var.kubernetes_version
  role_arn = aws_iam_role.cluster.arn

  vpc_config {
    subnet_ids              = var.private_subnet_ids
    security_group_ids      = [aws_security_group.cluster.id]
    endpoint_private_access = true
    endpoint_public_access  = false # operators and CI reach the API through the VPC
  }

  access_config {
    authentication_mode = "API"
  }

  encryption_config {
    resources = ["secrets"]
    provider {
      key_arn = aws_kms_key.cluster.arn
    }
  }

  enabled_cluster_log_types = ["api", "audit", "authenticator", "controllerManager", "scheduler"]

  depends_on = [aws_iam_role_policy_attachment.cluster, aws_cloudwatch_log_group.cluster]
}

# IAM roles for service accounts: pods get a role only through their service account's annotation.
data "tls_certificate" "oidc" {
  url = aws_eks_cluster.this.identity[0].oidc[0].issuer
}

resource "aws_iam_openid_connect_provider" "this" {
  url             = aws_eks_cluster.this.identity[0].oidc[0].issuer
  client_id_list  = ["sts.amazonaws.com"]
  thumbprint_list = [data.tls_certificate.oidc.certificates[0].sha1_fingerprint]
}

# ---- nodes -------------------------------------------------------------------------------------------

resource "aws_placement_group" "trading" {
  name     = "${var.name}-trading"
  strategy = "cluster"
}

resource "aws_launch_template" "node" {
  for_each               = local.groups
  name_prefix            = "${var.name}-${each.key}-"
  vpc_security_group_ids = [aws_security_group.node.id, aws_eks_cluster.this.vpc_config[0].cluster_security_group_id]

  # IMDSv2 only, one hop: pods cannot borrow the node's role through the metadata service.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_size = 50
      volume_type = "gp3"
      encrypted   = true
    }
  }

  dynamic "placement" {
    for_each = each.value.placement ? [aws_placement_group.trading.name] : []
    content {
      group_name = placement.value
    }
  }

  tag_specifications {
    resource_type = "instance"
    tags          = { Name = "${var.name}-${each.key}", "node-type" = each.key }
  }
}

resource "aws_eks_node_group" "this" {
  for_each        = local.groups
  cluster_name    = aws_eks_cluster.this.name
  node_group_name = each.key
  node_role_arn   = aws_iam_role.node.arn
  subnet_ids      = each.value.subnets
  instance_types  = [each.value.instance_type]
  ami_type        = "AL2023_x86_64_STANDARD"
  capacity_type   = "ON_DEMAND"

  launch_template {
    id      = aws_launch_template.node[each.key].id
    version = aws_launch_template.node[each.key].latest_version
  }

  scaling_config {
    desired_size = each.value.size
    min_size     = each.value.size
    max_size     = each.value.size + 1
  }

  update_config {
    max_unavailable = 1
  }

  labels = { "node-type" = each.key }

  dynamic "taint" {
    for_each = each.value.taints
    content {
      key    = taint.value.key
      value  = taint.value.value
      effect = taint.value.effect
    }
  }

  depends_on = [aws_iam_role_policy_attachment.node]
}
