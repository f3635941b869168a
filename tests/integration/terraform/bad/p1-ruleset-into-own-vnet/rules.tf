# P-1: the ruleset forwards azure.contoso.com to the hub's own inbound
# endpoint and is linked into the hub: the query would loop.
resource "azurerm_private_dns_resolver_forwarding_rule" "azure_private" {
  name                      = "AzurePrivate"
  dns_forwarding_ruleset_id = azurerm_private_dns_resolver_dns_forwarding_ruleset.rules.id
  domain_name               = "azure.contoso.com."
  target_dns_servers {
    ip_address = azurerm_private_dns_resolver_inbound_endpoint.in.ip_configurations[0].private_ip_address
    port       = 53
  }
}

resource "azurerm_private_dns_resolver_virtual_network_link" "hub" {
  name                      = "hub-link"
  dns_forwarding_ruleset_id = azurerm_private_dns_resolver_dns_forwarding_ruleset.rules.id
  virtual_network_id        = azurerm_virtual_network.hub.id
}
