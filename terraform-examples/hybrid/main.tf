# Hybrid DNS (examples/hybrid.yaml): an on-premises network with two DNS
# servers reaches Azure over ExpressRoute/VPN. Spokes resolve
# corp.contoso.com through the ruleset to the on-premises servers (two
# targets, F-10 failover); the on-premises servers forward azure.contoso.com
# to the hub's inbound endpoint at a static address.

terraform {
  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 4.0"
    }
  }
}

provider "azurerm" {
  features {}
}

locals {
  resolver_delegation = "Microsoft.Network/dnsResolvers"
  vnets = {
    hub   = azurerm_virtual_network.hub.id
    spoke = azurerm_virtual_network.spoke.id
  }
}

resource "azurerm_resource_group" "dns" {
  name     = var.resource_group_name
  location = var.location
}

resource "azurerm_virtual_network" "hub" {
  name                = "hub"
  resource_group_name = azurerm_resource_group.dns.name
  location            = azurerm_resource_group.dns.location
  address_space       = ["10.10.0.0/16"]
}

resource "azurerm_subnet" "resolver" {
  for_each             = { inbound = "10.10.0.0/28", outbound = "10.10.1.0/28" }
  name                 = "snet-${each.key}"
  resource_group_name  = azurerm_resource_group.dns.name
  virtual_network_name = azurerm_virtual_network.hub.name
  address_prefixes     = [each.value]

  delegation {
    name = "dnsResolvers"
    service_delegation {
      name    = local.resolver_delegation
      actions = ["Microsoft.Network/virtualNetworks/subnets/join/action"]
    }
  }
}

resource "azurerm_virtual_network" "spoke" {
  name                = "spoke"
  resource_group_name = azurerm_resource_group.dns.name
  location            = azurerm_resource_group.dns.location
  address_space       = ["10.20.0.0/16"]

  subnet {
    name             = "workload"
    address_prefixes = ["10.20.1.0/24"]
  }
}

resource "azurerm_private_dns_resolver" "hub" {
  name                = "hub-resolver"
  resource_group_name = azurerm_resource_group.dns.name
  location            = azurerm_resource_group.dns.location
  virtual_network_id  = azurerm_virtual_network.hub.id
}

resource "azurerm_private_dns_resolver_inbound_endpoint" "in" {
  name                    = "in"
  private_dns_resolver_id = azurerm_private_dns_resolver.hub.id
  location                = azurerm_private_dns_resolver.hub.location

  ip_configurations {
    private_ip_allocation_method = "Static"
    private_ip_address           = var.inbound_address
    subnet_id                    = azurerm_subnet.resolver["inbound"].id
  }
}

resource "azurerm_private_dns_resolver_outbound_endpoint" "out" {
  name                    = "out"
  private_dns_resolver_id = azurerm_private_dns_resolver.hub.id
  location                = azurerm_private_dns_resolver.hub.location
  subnet_id               = azurerm_subnet.resolver["outbound"].id
}

resource "azurerm_private_dns_resolver_dns_forwarding_ruleset" "onprem" {
  name                                       = "onprem-rules"
  resource_group_name                        = azurerm_resource_group.dns.name
  location                                   = azurerm_resource_group.dns.location
  private_dns_resolver_outbound_endpoint_ids = [azurerm_private_dns_resolver_outbound_endpoint.out.id]
}

resource "azurerm_private_dns_resolver_forwarding_rule" "onprem" {
  for_each                  = var.onprem_domains
  name                      = each.key
  dns_forwarding_ruleset_id = azurerm_private_dns_resolver_dns_forwarding_ruleset.onprem.id
  domain_name               = each.value
  enabled                   = true

  dynamic "target_dns_servers" {
    for_each = var.onprem_dns_servers
    iterator = server
    content {
      ip_address = server.value
      port       = 53
    }
  }
}

resource "azurerm_private_dns_resolver_virtual_network_link" "link" {
  for_each                  = var.linked_vnets
  name                      = "${each.key}-link"
  dns_forwarding_ruleset_id = azurerm_private_dns_resolver_dns_forwarding_ruleset.onprem.id
  virtual_network_id        = local.vnets[each.key]
}

resource "azurerm_private_dns_zone" "azure" {
  name                = "azure.contoso.com"
  resource_group_name = azurerm_resource_group.dns.name
}

resource "azurerm_private_dns_a_record" "app" {
  name                = "app"
  zone_name           = azurerm_private_dns_zone.azure.name
  resource_group_name = azurerm_resource_group.dns.name
  ttl                 = 3600
  records             = [cidrhost("10.20.1.0/24", 10)]
}

resource "azurerm_private_dns_zone_virtual_network_link" "hub" {
  name                  = "hub-link"
  resource_group_name   = azurerm_resource_group.dns.name
  private_dns_zone_name = azurerm_private_dns_zone.azure.name
  virtual_network_id    = azurerm_virtual_network.hub.id
}

# The spoke's VMs register their names in the zone (Z-3).
resource "azurerm_private_dns_zone_virtual_network_link" "spoke" {
  name                  = "spoke-link"
  resource_group_name   = azurerm_resource_group.dns.name
  private_dns_zone_name = azurerm_private_dns_zone.azure.name
  virtual_network_id    = azurerm_virtual_network.spoke.id
  registration_enabled  = true
}
