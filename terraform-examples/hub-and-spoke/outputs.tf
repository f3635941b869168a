output "inbound_endpoint_address" {
  description = "Where on-premises servers forward azure.contoso.com (10.10.0.4)."
  value       = azurerm_private_dns_resolver_inbound_endpoint.in.ip_configurations[0].private_ip_address
}

output "forwarding_ruleset_id" {
  value = azurerm_private_dns_resolver_dns_forwarding_ruleset.hub.id
}

output "spoke_vnet_ids" {
  value = { for name, vnet in azurerm_virtual_network.spoke : name => vnet.id }
}
