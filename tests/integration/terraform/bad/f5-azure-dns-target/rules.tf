# F-5: 168.63.129.16 (Azure DNS) is never a valid target of a forwarding rule.
resource "azurerm_private_dns_resolver_virtual_network_link" "spoke" {
  name                      = "spoke-link"
  dns_forwarding_ruleset_id = azurerm_private_dns_resolver_dns_forwarding_ruleset.rules.id
  virtual_network_id        = azurerm_virtual_network.spoke.id
}

resource "azurerm_private_dns_resolver_forwarding_rule" "to_azure" {
  name                      = "ToAzure"
  dns_forwarding_ruleset_id = azurerm_private_dns_resolver_dns_forwarding_ruleset.rules.id
  domain_name               = "contoso.com."
  target_dns_servers {
    ip_address = "168.63.129.16"
    port       = 53
  }
}
