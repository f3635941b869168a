output "inbound_endpoint_address" {
  value = azurerm_private_dns_resolver_inbound_endpoint.in.ip_configurations[0].private_ip_address
}

output "policy_id" {
  value = azapi_resource.policy.id
}
