package main

import (
	"html/template"
)

// product is an article of the demo shop. Name and Blurb are English and
// translated when shown.
type product struct {
	SKU   string
	Name  string
	Blurb string
	Price int // in cents
	Icon  template.HTML
}

// catalog lists the products in the order the shop shows them.
var catalog = []product{
	{SKU: "mug", Name: "Gopher mug", Blurb: "Holds a whole session of coffee.", Price: 1200, Icon: iconMug},
	{SKU: "tee", Name: "Session T-shirt", Blurb: "Soft cotton, printed with a 32-character key.", Price: 1900, Icon: iconTee},
	{SKU: "jar", Name: "Cookie jar", Blurb: "Signed, sealed and HttpOnly.", Price: 2400, Icon: iconJar},
	{SKU: "notebook", Name: "Notebook", Blurb: "For the state you keep on the server.", Price: 850, Icon: iconNotebook},
	{SKU: "stickers", Name: "Sticker pack", Blurb: "Eight stickers, one for each engine.", Price: 400, Icon: iconStickers},
	{SKU: "tote", Name: "Tote bag", Blurb: "Carries a full cart across restarts.", Price: 1500, Icon: iconTote},
}

// productBySKU returns the catalog entry for sku.
func productBySKU(sku string) (product, bool) {
	for _, p := range catalog {
		if p.SKU == sku {
			return p, true
		}
	}
	return product{}, false
}

// maxQty is the largest quantity of one product in the cart.
const maxQty = 99

// cartLine is one line of the cart as the pages show it.
type cartLine struct {
	product
	Qty   int
	Total int
}

// cart is the cart as stored in the session under "cart": product SKU to
// quantity, a JSON object Django reads as a dict.
type cart map[string]int

// lines returns the cart's lines in catalog order, dropping unknown SKUs
// and bad quantities.
func (c cart) lines() []cartLine {
	var out []cartLine
	for _, p := range catalog {
		if q := c[p.SKU]; q > 0 {
			q = min(q, maxQty)
			out = append(out, cartLine{product: p, Qty: q, Total: q * p.Price})
		}
	}
	return out
}

// count returns the number of articles in the cart.
func (c cart) count() int {
	n := 0
	for _, l := range c.lines() {
		n += l.Qty
	}
	return n
}

// total returns the cart's total in cents.
func (c cart) total() int {
	t := 0
	for _, l := range c.lines() {
		t += l.Total
	}
	return t
}

// clean returns the valid lines of c as a new cart.
func (c cart) clean() cart {
	out := cart{}
	for _, l := range c.lines() {
		out[l.SKU] = l.Qty
	}
	return out
}

// The product pictures: small inline SVGs, so the demo needs no external
// asset.
const (
	iconMug      template.HTML = `<svg viewBox="0 0 64 64" aria-hidden="true"><rect x="14" y="18" width="28" height="32" rx="5" fill="currentColor"/><path d="M42 24h5a7 7 0 0 1 0 14h-5" fill="none" stroke="currentColor" stroke-width="5"/><ellipse cx="28" cy="18" rx="14" ry="3" fill="#fff" opacity=".35"/><path d="M22 10c0-3 4-3 4-6M30 10c0-3 4-3 4-6" fill="none" stroke="currentColor" stroke-width="2.5" stroke-linecap="round" opacity=".6"/></svg>`
	iconTee      template.HTML = `<svg viewBox="0 0 64 64" aria-hidden="true"><path d="M22 10l-12 7 5 10 6-3v28h22V24l6 3 5-10-12-7c-2 4-6 6-10 6s-8-2-10-6z" fill="currentColor"/><rect x="25" y="30" width="14" height="4" rx="2" fill="#fff" opacity=".5"/></svg>`
	iconJar      template.HTML = `<svg viewBox="0 0 64 64" aria-hidden="true"><rect x="18" y="8" width="28" height="8" rx="3" fill="currentColor" opacity=".7"/><path d="M16 20c0-2 2-4 4-4h24c2 0 4 2 4 4v30a6 6 0 0 1-6 6H22a6 6 0 0 1-6-6z" fill="currentColor"/><circle cx="27" cy="34" r="6" fill="#fff" opacity=".55"/><circle cx="38" cy="42" r="5" fill="#fff" opacity=".45"/><circle cx="26" cy="34" r="1.2" fill="currentColor"/><circle cx="29" cy="32" r="1.2" fill="currentColor"/><circle cx="38" cy="42" r="1.2" fill="currentColor"/></svg>`
	iconNotebook template.HTML = `<svg viewBox="0 0 64 64" aria-hidden="true"><rect x="16" y="8" width="34" height="48" rx="4" fill="currentColor"/><path d="M12 16h8M12 26h8M12 36h8M12 46h8" stroke="currentColor" stroke-width="4" stroke-linecap="round" opacity=".7"/><rect x="26" y="16" width="18" height="8" rx="2" fill="#fff" opacity=".5"/></svg>`
	iconStickers template.HTML = `<svg viewBox="0 0 64 64" aria-hidden="true"><circle cx="24" cy="26" r="14" fill="currentColor"/><rect x="30" y="30" width="24" height="24" rx="6" fill="currentColor" opacity=".65" transform="rotate(12 42 42)"/><path d="M17 26l5 5 9-10" fill="none" stroke="#fff" stroke-width="4" stroke-linecap="round" stroke-linejoin="round"/></svg>`
	iconTote     template.HTML = `<svg viewBox="0 0 64 64" aria-hidden="true"><path d="M24 24v-6a8 8 0 0 1 16 0v6" fill="none" stroke="currentColor" stroke-width="4"/><path d="M12 24h40l-4 32H16z" fill="currentColor"/><path d="M22 40h20" stroke="#fff" stroke-width="3" stroke-linecap="round" opacity=".5"/></svg>`
)
