variable "location" {
  type    = string
  default = "westeurope"
}

variable "resource_group_name" {
  description = "Resource group of the estate; privres's default group is \"privres\"."
  type        = string
  default     = "privres"
}

variable "inbound_address" {
  description = "Static address of the inbound endpoint, configured as the conditional forwarder for azure.contoso.com on the on-premises servers."
  type        = string
  default     = "10.10.0.10"
}

variable "onprem_dns_servers" {
  description = "On-premises DNS servers reached over ExpressRoute/VPN, in failover order (F-10)."
  type        = list(string)
  default     = ["192.168.10.4", "192.168.10.5"]
}

variable "onprem_domains" {
  description = "Rule name => on-premises domain forwarded to the servers above."
  type        = map(string)
  default = {
    CorpContoso = "corp.contoso.com."
  }
}

variable "linked_vnets" {
  description = "VNets whose queries follow the on-premises rules."
  type        = set(string)
  default     = ["hub", "spoke"]
}
