variable "location" {
  description = "Region of every resource (the resolver and its VNet share it, N-4)."
  type        = string
  default     = "eastus"
}

variable "resource_group_name" {
  description = "Resource group of the estate; privres's default group is \"privres\"."
  type        = string
  default     = "privres"
}

variable "hub_address_space" {
  type    = string
  default = "10.10.0.0/16"
}

variable "spokes" {
  description = "Spoke VNets, linked to the hub's forwarding ruleset."
  type = map(object({
    address_space = string
    subnet        = string
  }))
  default = {
    spoke1 = { address_space = "10.20.0.0/16", subnet = "10.20.0.0/24" }
    spoke2 = { address_space = "10.30.0.0/16", subnet = "10.30.0.0/24" }
  }
}

variable "onprem_dns_servers" {
  description = "The on-premises DNS servers (described for privres in privres.yaml)."
  type        = list(string)
  default     = ["10.100.0.2"]
}

variable "onprem_rules" {
  description = "Forwarding rules to the on-premises servers: rule name => domain."
  type        = map(string)
  default = {
    Contoso  = "contoso.com."
    Wildcard = "."
  }
}

variable "private_zone" {
  type    = string
  default = "azure.contoso.com"
}
