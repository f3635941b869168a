variable "location" {
  type    = string
  default = "eastus"
}

variable "resource_group_name" {
  description = "Resource group of the estate; privres's default group is \"privres\"."
  type        = string
  default     = "privres"
}

variable "domain_lists" {
  description = "DNS resolver domain lists: name => domains."
  type        = map(list(string))
  default = {
    needed     = ["contoso.com.", "azure.contoso.com.", "windows.net.", "microsoft.com."]
    tracking   = ["ads.example.", "telemetry.example.net."]
    everything = ["."]
  }
}

variable "security_rules" {
  description = "DNS security rules of the policy (S-1): lowest priority number wins."
  type = map(object({
    priority    = number
    action      = string
    domain_list = string
    state       = optional(string)
  }))
  default = {
    allow-needed = { priority = 100, action = "Allow", domain_list = "needed" }
    alert-ads    = { priority = 200, action = "Alert", domain_list = "tracking" }
    block-rest   = { priority = 65000, action = "Block", domain_list = "everything", state = "Enabled" }
  }
}
