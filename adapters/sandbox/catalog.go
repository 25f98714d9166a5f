package sandbox

import (
	"github.com/keyward/keyward/domain"
	"github.com/keyward/keyward/ports"
)

// keyFormat is how a product's keys look: groups of characters joined by
// dashes, delivered as text or rendered into a PNG image.
type keyFormat struct {
	groups []int
	image  bool
}

var (
	steamKey     = keyFormat{groups: []int{5, 5, 5}}
	gogKey       = keyFormat{groups: []int{18}}
	fiveByFive   = keyFormat{groups: []int{5, 5, 5, 5, 5}} // Xbox, Windows, Office
	psnCode      = keyFormat{groups: []int{4, 4, 4}}
	eaKey        = keyFormat{groups: []int{4, 4, 4, 4, 4}}
	fourByFour   = keyFormat{groups: []int{4, 4, 4, 4}} // Ubisoft, Rockstar
	eShopPicture = keyFormat{groups: []int{4, 4, 4, 4}, image: true}
)

type catalogEntry struct {
	product ports.SupplierProduct
	format  keyFormat
}

func entry(id, name, platform, region, cost string, qty int, f keyFormat) catalogEntry {
	return catalogEntry{
		product: ports.SupplierProduct{ID: id, Name: name, Platform: platform, Region: region, Cost: domain.MustMoney(cost, "EUR"), Qty: qty},
		format:  f,
	}
}

// catalog is the sandbox's fixed product list. Product ids double as SKUs.
// Red Dead Redemption 2 is out of stock; the Nintendo eShop card is the one
// product delivered as an image key.
func catalog() []catalogEntry {
	return []catalogEntry{
		entry("cyberpunk-2077-gog-global", "Cyberpunk 2077", "GOG", "GLOBAL", "17.49", 240, gogKey),
		entry("the-witcher-3-goty-gog-global", "The Witcher 3: Wild Hunt GOTY Edition", "GOG", "GLOBAL", "7.49", 410, gogKey),
		entry("elden-ring-steam-global", "Elden Ring", "Steam", "GLOBAL", "32.99", 120, steamKey),
		entry("baldurs-gate-3-steam-eu", "Baldur's Gate 3", "Steam", "EU", "41.90", 85, steamKey),
		entry("hades-ii-steam-global", "Hades II", "Steam", "GLOBAL", "21.79", 300, steamKey),
		entry("stardew-valley-steam-global", "Stardew Valley", "Steam", "GLOBAL", "8.29", 500, steamKey),
		entry("forza-horizon-5-xbox-eu", "Forza Horizon 5 (Xbox Series X|S / Windows)", "Xbox", "EU", "24.35", 60, fiveByFive),
		entry("psn-gift-card-50-eur-de", "PlayStation Store Gift Card 50 EUR", "PlayStation", "DE", "46.80", 150, psnCode),
		entry("nintendo-eshop-card-25-eur-eu", "Nintendo eShop Card 25 EUR", "Nintendo", "EU", "23.45", 90, eShopPicture),
		entry("ea-sports-fc-25-ea-app-global", "EA SPORTS FC 25", "EA app", "GLOBAL", "19.99", 45, eaKey),
		entry("assassins-creed-mirage-ubisoft-eu", "Assassin's Creed Mirage", "Ubisoft Connect", "EU", "14.59", 70, fourByFour),
		entry("red-dead-redemption-2-rockstar-eu", "Red Dead Redemption 2", "Rockstar Games Launcher", "EU", "13.99", 0, fourByFour),
		entry("windows-11-pro-oem-global", "Windows 11 Pro OEM", "Windows", "GLOBAL", "12.39", 1000, fiveByFive),
		entry("office-2021-pro-plus-global", "Microsoft Office 2021 Professional Plus", "Windows", "GLOBAL", "27.90", 300, fiveByFive),
		preorderEntry(entry(PreorderProductID, "Starfall Odyssey (Pre-order)", "Steam", "GLOBAL", "44.90", 200, steamKey)),
	}
}

// PreorderProductID is the sandbox's pre-order: sold before its release
// (SupplierConfig.PreorderRelease), its keys released on that day.
const PreorderProductID = "starfall-odyssey-steam-global-preorder"

func preorderEntry(e catalogEntry) catalogEntry {
	e.product.Preorder = true
	return e
}
