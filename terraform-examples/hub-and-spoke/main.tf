# Hub and spoke (examples/hub-and-spoke.yaml): the hub holds the resolver and
# the private zones; the spokes are linked to the forwarding ruleset, which
# sends azure.contoso.com to the hub's inbound endpoint and everything else
# to the on-premises DNS server.

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

resource "azurerm_resource_group" "dns" {
  name     = var.resource_group_name
  location = var.location
}

# ---- networks -----------------------------------------------------------------

resource "azurerm_virtual_network" "hub" {
  name                = "hub"
  resource_group_name = azurerm_resource_group.dns.name
  location            = azurerm_resource_group.dns.location
  address_space       = [var.hub_address_space]
}

resource "azurerm_subnet" "inbound" {
  name                 = "snet-inbound"
  resource_group_name  = azurerm_resource_group.dns.name
  virtual_network_name = azurerm_virtual_network.hub.name
  address_prefixes     = [cidrsubnet(var.hub_address_space, 12, 0)]

  delegation {
    name = "Microsoft.Network.dnsResolvers"
    service_delegation {
      name    = "Microsoft.Network/dnsResolvers"
      actions = ["Microsoft.Network/virtualNetworks/subnets/join/action"]
    }
  }
}

resource "azurerm_subnet" "outbound" {
  name                 = "snet-outbound"
  resource_group_name  = azurerm_resource_group.dns.name
  virtual_network_name = azurerm_virtual_network.hub.name
  address_prefixes     = [cidrsubnet(var.hub_address_space, 12, 16)]

  delegation {
    name = "Microsoft.Network.dnsResolvers"
    service_delegation {
      name    = "Microsoft.Network/dnsResolvers"
      actions = ["Microsoft.Network/virtualNetworks/subnets/join/action"]
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
  for_each            = var.spokes
  name                = each.key
  resource_group_name = azurerm_resource_group.dns.name
  location            = azurerm_resource_group.dns.location
  address_space       = [each.value.address_space]
}

resource "azurerm_subnet" "spoke_default" {
  for_each             = var.spokes
  name                 = "default"
  resource_group_name  = azurerm_resource_group.dns.name
  virtual_network_name = azurerm_virtual_network.spoke[each.key].name
  address_prefixes     = [each.value.subnet]
}

# Not DNS: skipped by the import, counted in its summary.
resource "azurerm_network_security_group" "workload" {
  name                = "nsg-workload"
  resource_group_name = azurerm_resource_group.dns.name
  location            = azurerm_resource_group.dns.location
}

# ---- the resolver -------------------------------------------------------------

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
    private_ip_allocation_method = "Dynamic"
    subnet_id                    = azurerm_subnet.inbound.id
  }
}

resource "azurerm_private_dns_resolver_outbound_endpoint" "out" {
  name                    = "out"
  private_dns_resolver_id = azurerm_private_dns_resolver.hub.id
  location                = azurerm_private_dns_resolver.hub.location
  subnet_id               = azurerm_subnet.outbound.id
}

resource "azurerm_private_dns_resolver_dns_forwarding_ruleset" "hub" {
  name                                       = "hub-rules"
  resource_group_name                        = azurerm_resource_group.dns.name
  location                                   = azurerm_resource_group.dns.location
  private_dns_resolver_outbound_endpoint_ids = [azurerm_private_dns_resolver_outbound_endpoint.out.id]
}

resource "azurerm_private_dns_resolver_forwarding_rule" "onprem" {
  for_each                  = var.onprem_rules
  name                      = each.key
  dns_forwarding_ruleset_id = azurerm_private_dns_resolver_dns_forwarding_ruleset.hub.id
  domain_name               = each.value
  enabled                   = true

  dynamic "target_dns_servers" {
    for_each = var.onprem_dns_servers
    content {
      ip_address = target_dns_servers.value
      port       = 53
    }
  }
}

# The private zone is answered by the hub's inbound endpoint (its dynamic
# address, the fifth of its subnet: 10.10.0.4, I-2).
resource "azurerm_private_dns_resolver_forwarding_rule" "azure_private" {
  name                      = "AzurePrivate"
  dns_forwarding_ruleset_id = azurerm_private_dns_resolver_dns_forwarding_ruleset.hub.id
  domain_name               = "${var.private_zone}."
  enabled                   = true

  target_dns_servers {
    ip_address = azurerm_private_dns_resolver_inbound_endpoint.in.ip_configurations[0].private_ip_address
    port       = 53
  }
}

resource "azurerm_private_dns_resolver_virtual_network_link" "spoke" {
  for_each                  = azurerm_virtual_network.spoke
  name                      = "${each.key}-link"
  dns_forwarding_ruleset_id = azurerm_private_dns_resolver_dns_forwarding_ruleset.hub.id
  virtual_network_id        = each.value.id
}

# ---- private zones ------------------------------------------------------------

resource "azurerm_private_dns_zone" "contoso" {
  name                = var.private_zone
  resource_group_name = azurerm_resource_group.dns.name
}

resource "azurerm_private_dns_a_record" "web" {
  name                = "web"
  zone_name           = azurerm_private_dns_zone.contoso.name
  resource_group_name = azurerm_resource_group.dns.name
  ttl                 = 300
  records             = ["10.10.2.5"]
}

resource "azurerm_private_dns_cname_record" "api" {
  name                = "api"
  zone_name           = azurerm_private_dns_zone.contoso.name
  resource_group_name = azurerm_resource_group.dns.name
  ttl                 = 300
  record              = "web.${var.private_zone}."
}

resource "azurerm_private_dns_mx_record" "apex" {
  name                = "@"
  zone_name           = azurerm_private_dns_zone.contoso.name
  resource_group_name = azurerm_resource_group.dns.name
  ttl                 = 3600

  record {
    preference = 10
    exchange   = "mail.${var.private_zone}."
  }
}

resource "azurerm_private_dns_a_record" "mail" {
  name                = "mail"
  zone_name           = azurerm_private_dns_zone.contoso.name
  resource_group_name = azurerm_resource_group.dns.name
  ttl                 = 3600
  records             = ["10.10.2.25"]
}

resource "azurerm_private_dns_srv_record" "sip" {
  name                = "_sip._tcp"
  zone_name           = azurerm_private_dns_zone.contoso.name
  resource_group_name = azurerm_resource_group.dns.name
  ttl                 = 3600

  record {
    priority = 0
    weight   = 5
    port     = 5060
    target   = "web.${var.private_zone}."
  }
}

resource "azurerm_private_dns_txt_record" "spf" {
  name                = "@"
  zone_name           = azurerm_private_dns_zone.contoso.name
  resource_group_name = azurerm_resource_group.dns.name
  ttl                 = 3600

  record {
    value = "v=spf1 -all"
  }
}

resource "azurerm_private_dns_zone_virtual_network_link" "hub" {
  name                  = "hub-link"
  resource_group_name   = azurerm_resource_group.dns.name
  private_dns_zone_name = azurerm_private_dns_zone.contoso.name
  virtual_network_id    = azurerm_virtual_network.hub.id
  registration_enabled  = true
}

resource "azurerm_private_dns_zone" "blob" {
  name                = "privatelink.blob.core.windows.net"
  resource_group_name = azurerm_resource_group.dns.name
}

resource "azurerm_private_dns_a_record" "storage" {
  name                = "contosostorage"
  zone_name           = azurerm_private_dns_zone.blob.name
  resource_group_name = azurerm_resource_group.dns.name
  ttl                 = 3600
  records             = ["10.10.2.10"]
}

resource "azurerm_private_dns_zone_virtual_network_link" "hub_blob" {
  name                  = "hub-blob"
  resource_group_name   = azurerm_resource_group.dns.name
  private_dns_zone_name = azurerm_private_dns_zone.blob.name
  virtual_network_id    = azurerm_virtual_network.hub.id
  registration_enabled  = false
  resolution_policy     = "Default"
}
