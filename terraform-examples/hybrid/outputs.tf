output "inbound_endpoint_address" {
  description = "The conditional forwarder target for azure.contoso.com on the on-premises servers."
  value       = azurerm_private_dns_resolver_inbound_endpoint.in.ip_configurations[0].private_ip_address
}

output "forwarding_ruleset_id" {
  value = azurerm_private_dns_resolver_dns_forwarding_ruleset.onprem.id
}
