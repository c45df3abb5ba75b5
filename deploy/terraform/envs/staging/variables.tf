variable "region" {
  description = "AWS region of the environment (close to the venues' matching engines)."
  type        = string
  default     = "eu-west-1"
}

variable "availability_zones" {
  description = "Two zones; the trading node group and its placement group use the first."
  type        = list(string)
  default     = ["eu-west-1a", "eu-west-1b"]
}

variable "rotation_package" {
  description = "Signed zip of the exchange-key rotation Lambda, built by the deploy pipeline."
  type        = string
  default     = "build/tradestack_rotation.zip"
}
