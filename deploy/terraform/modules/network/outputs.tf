output "vpc_id" {
  description = "The VPC."
  value       = aws_vpc.this.id
}

output "cidr_block" {
  description = "The VPC's CIDR block."
  value       = aws_vpc.this.cidr_block
}

output "private_subnet_ids" {
  description = "Private subnets, in the order of var.availability_zones."
  value       = [for zone in var.availability_zones : aws_subnet.private[zone].id]
}

output "endpoint_security_group_id" {
  description = "Security group of the interface endpoints."
  value       = aws_security_group.endpoints.id
}

output "nat_public_ips" {
  description = "The NAT gateways' public addresses: what venues see, so what API keys are whitelisted to."
  value       = [for eip in aws_eip.nat : eip.public_ip]
}
