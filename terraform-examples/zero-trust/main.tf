# Zero-trust DNS (examples/zero-trust.yaml): the spoke's workload may resolve
# only the domains it needs; tracking domains resolve but raise an alert;
# everything else is blocked (semantics.md §8). The hub is not linked to the
# policy.
#
# The azurerm provider has no DNS security policy resources yet (its issue
# 28597), so the policy, its rules, domain lists and VNet link are written
# with azapi_resource, as Azure's verified modules do.

terraform {
  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "~> 4.0"
    }
    azapi = {
      source  = "Azure/azapi"
      version = "~> 2.0"
    }
  }
}

provider "azurerm" {
  features {}
}

locals {
  dns_resolver_api = "2023-07-01-preview"
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

resource "azurerm_subnet" "inbound" {
  name                 = "snet-inbound"
  resource_group_name  = azurerm_resource_group.dns.name
  virtual_network_name = azurerm_virtual_network.hub.name
  address_prefixes     = ["10.10.0.0/28"]

  delegation {
    name = "dnsResolvers"
    service_delegation {
      name = "Microsoft.Network/dnsResolvers"
    }
  }
}

resource "azurerm_subnet" "outbound" {
  name                 = "snet-outbound"
  resource_group_name  = azurerm_resource_group.dns.name
  virtual_network_name = azurerm_virtual_network.hub.name
  address_prefixes     = ["10.10.1.0/28"]

  delegation {
    name = "dnsResolvers"
    service_delegation {
      name = "Microsoft.Network/dnsResolvers"
    }
  }
}

resource "azurerm_subnet" "workload" {
  name                 = "workload"
  resource_group_name  = azurerm_resource_group.dns.name
  virtual_network_name = azurerm_virtual_network.hub.name
  address_prefixes     = ["10.10.2.0/24"]
}

resource "azurerm_virtual_network" "spoke" {
  name                = "spoke"
  resource_group_name = azurerm_resource_group.dns.name
  location            = azurerm_resource_group.dns.location
  address_space       = ["10.20.0.0/16"]
}

resource "azurerm_subnet" "spoke_default" {
  name                 = "default"
  resource_group_name  = azurerm_resource_group.dns.name
  virtual_network_name = azurerm_virtual_network.spoke.name
  address_prefixes     = ["10.20.0.0/24"]
}

resource "azurerm_private_dns_zone" "azure" {
  name                = "azure.contoso.com"
  resource_group_name = azurerm_resource_group.dns.name
}

resource "azurerm_private_dns_a_record" "web" {
  name                = "web"
  zone_name           = azurerm_private_dns_zone.azure.name
  resource_group_name = azurerm_resource_group.dns.name
  ttl                 = 300
  records             = ["10.10.2.5"]
}

resource "azurerm_private_dns_zone_virtual_network_link" "hub" {
  name                  = "hub-link"
  resource_group_name   = azurerm_resource_group.dns.name
  private_dns_zone_name = azurerm_private_dns_zone.azure.name
  virtual_network_id    = azurerm_virtual_network.hub.id
  registration_enabled  = true
}

resource "azurerm_private_dns_zone_virtual_network_link" "spoke" {
  name                  = "spoke-link"
  resource_group_name   = azurerm_resource_group.dns.name
  private_dns_zone_name = azurerm_private_dns_zone.azure.name
  virtual_network_id    = azurerm_virtual_network.spoke.id
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
  location                = azurerm_resource_group.dns.location

  ip_configurations {
    private_ip_allocation_method = "Dynamic"
    subnet_id                    = azurerm_subnet.inbound.id
  }
}

resource "azurerm_private_dns_resolver_outbound_endpoint" "out" {
  name                    = "out"
  private_dns_resolver_id = azurerm_private_dns_resolver.hub.id
  location                = azurerm_resource_group.dns.location
  subnet_id               = azurerm_subnet.outbound.id
}

# ---- DNS security policy (azapi) ---------------------------------------------

resource "azapi_resource" "domain_list" {
  for_each  = var.domain_lists
  type      = "Microsoft.Network/dnsResolverDomainLists@${local.dns_resolver_api}"
  name      = each.key
  parent_id = azurerm_resource_group.dns.id
  location  = azurerm_resource_group.dns.location
  body = {
    properties = {
      domains = each.value
    }
  }
}

resource "azapi_resource" "policy" {
  type      = "Microsoft.Network/dnsResolverPolicies@${local.dns_resolver_api}"
  name      = "zero-trust"
  parent_id = azurerm_resource_group.dns.id
  location  = azurerm_resource_group.dns.location
  body = {
    properties = {}
  }
}

resource "azapi_resource" "rule" {
  for_each  = var.security_rules
  type      = "Microsoft.Network/dnsResolverPolicies/dnsSecurityRules@${local.dns_resolver_api}"
  name      = each.key
  parent_id = azapi_resource.policy.id
  location  = azurerm_resource_group.dns.location
  body = {
    properties = {
      priority               = each.value.priority
      action                 = { actionType = each.value.action }
      dnsResolverDomainLists = [{ id = azapi_resource.domain_list[each.value.domain_list].id }]
      dnsSecurityRuleState   = lookup(each.value, "state", null)
    }
  }
}

resource "azapi_resource" "spoke_policy_link" {
  type      = "Microsoft.Network/dnsResolverPolicies/virtualNetworkLinks@${local.dns_resolver_api}"
  name      = "spoke-policy"
  parent_id = azapi_resource.policy.id
  location  = azurerm_resource_group.dns.location
  body = {
    properties = {
      virtualNetwork = { id = azurerm_virtual_network.spoke.id }
    }
  }
}
