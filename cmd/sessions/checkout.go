package main

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"net/http"
	"net/mail"
	"strconv"
	"strings"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/messages"
)

// The checkout is a three-step form whose answers live in the session
// under "checkout" until the order is placed, so the visitor can go back
// and forth, reload, close the browser or see the server restart without
// losing what was typed, as a Django SessionWizardView keeps its steps.

// lastOrderKey holds the last order placed in the session (an order).
const lastOrderKey = "last_order"

// checkoutState is what the session keeps under "checkout".
type checkoutState struct {
	Step     int                          `json:"step"`     // where the visitor is
	Furthest int                          `json:"furthest"` // the furthest step reached
	Answers  map[string]map[string]string `json:"answers"`  // step slug -> field -> value
}

// option is one choice of a select or radio field.
type option struct{ Value, Label string }

// field is one question of a checkout step.
type field struct {
	Name     string
	Label    string
	Kind     string // text, email, select, radio, checkbox, textarea
	Required bool
	Options  []option
}

// step is one page of the checkout.
type step struct {
	N      int
	Slug   string
	Title  string
	Fields []field
}

// checkoutSteps are the three steps of the checkout, in order.
var checkoutSteps = []step{
	{N: 1, Slug: "shipping", Title: "Shipping address", Fields: []field{
		{Name: "name", Label: "Full name", Kind: "text", Required: true},
		{Name: "street", Label: "Street and number", Kind: "text", Required: true},
		{Name: "postcode", Label: "Postcode", Kind: "text", Required: true},
		{Name: "city", Label: "City", Kind: "text", Required: true},
		{Name: "country", Label: "Country", Kind: "select", Required: true, Options: []option{
			{"FR", "France"}, {"DE", "Germany"}, {"GB", "United Kingdom"}, {"US", "United States"}, {"XX", "Elsewhere"}}},
	}},
	{N: 2, Slug: "delivery", Title: "Delivery", Fields: []field{
		{Name: "method", Label: "Delivery method", Kind: "radio", Required: true, Options: []option{
			{"standard", "Standard, 3 to 5 days"}, {"express", "Express, next day"}, {"pickup", "Pick up in store"}}},
		{Name: "gift", Label: "Wrap it as a gift", Kind: "checkbox"},
		{Name: "note", Label: "Note for the courier", Kind: "textarea"},
	}},
	{N: 3, Slug: "payment", Title: "Payment", Fields: []field{
		{Name: "method", Label: "Payment method", Kind: "radio", Required: true, Options: []option{
			{"card", "Card on delivery"}, {"invoice", "Invoice"}, {"transfer", "Bank transfer"}}},
		{Name: "email", Label: "E-mail for the receipt", Kind: "email", Required: true},
	}},
}

// shippingCost returns the cost of a delivery method, in cents.
func shippingCost(method string) int {
	switch method {
	case "express":
		return 990
	case "pickup":
		return 0
	}
	return 490
}

// maxAnswer bounds one answer, so the session stays small.
const maxAnswer = 500

// loadCheckout returns the checkout kept in the session, with its step
// numbers clamped to the existing steps.
func loadCheckout(sess *sessions.Session) (checkoutState, bool) {
	st, ok := sessions.Get[checkoutState](sess, checkoutKey)
	if !ok {
		return checkoutState{}, false
	}
	st.Step = min(max(st.Step, 1), len(checkoutSteps))
	st.Furthest = min(max(st.Furthest, st.Step), len(checkoutSteps))
	return st, true
}

// saveCheckout keeps the checkout in the session.
func saveCheckout(sess *sessions.Session, st checkoutState) {
	sess.Set(checkoutKey, st)
}

// stepFromPath returns the step named by the {step} path value.
func stepFromPath(r *http.Request) (step, bool) {
	n, err := strconv.Atoi(r.PathValue("step"))
	if err != nil || n < 1 || n > len(checkoutSteps) {
		return step{}, false
	}
	return checkoutSteps[n-1], true
}

// validate returns the errors of a step's answers, by field name.
func (st step) validate(answers map[string]string) map[string]string {
	errs := map[string]string{}
	for _, f := range st.Fields {
		v := answers[f.Name]
		switch {
		case f.Required && v == "":
			errs[f.Name] = "This field is required."
		case v == "":
		case f.Options != nil && !hasOption(f.Options, v):
			errs[f.Name] = "Select a valid choice."
		case f.Kind == "email":
			if a, err := mail.ParseAddress(v); err != nil || a.Address != v {
				errs[f.Name] = "Enter a valid email address."
			}
		}
	}
	return errs
}

// hasOption reports whether v is one of the options' values.
func hasOption(opts []option, v string) bool {
	for _, o := range opts {
		if o.Value == v {
			return true
		}
	}
	return false
}

// checkoutData is the data of the checkout page.
type checkoutData struct {
	Steps    []step
	Step     step
	Furthest int
	Values   map[string]string
	Errors   map[string]string
	Answers  map[string]map[string]string
	Lines    []cartLine
	Subtotal int
	Shipping int
	Total    int
}

// Label returns the label of the option value v of the field name in the
// step slug, for the summary.
func (d checkoutData) Label(slug, name, v string) string {
	for _, st := range checkoutSteps {
		if st.Slug != slug {
			continue
		}
		for _, f := range st.Fields {
			if f.Name == name {
				for _, o := range f.Options {
					if o.Value == v {
						return o.Label
					}
				}
			}
		}
	}
	return v
}

// checkoutResume sends the visitor to the step where they left off.
func (s *shop) checkoutResume(w http.ResponseWriter, r *http.Request) {
	st, _ := loadCheckout(sessionOf(r))
	http.Redirect(w, r, fmt.Sprintf("/checkout/%d", max(st.Step, 1)), http.StatusFound)
}

// checkoutPage shows a step with the answers kept so far. A step not
// reached yet sends the visitor to the furthest one reached.
func (s *shop) checkoutPage(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	cur, ok := stepFromPath(r)
	if !ok {
		s.notFound(w, r)
		return
	}
	st, _ := loadCheckout(sess)
	if cur.N > max(st.Furthest, 1) {
		http.Redirect(w, r, fmt.Sprintf("/checkout/%d", max(st.Furthest, 1)), http.StatusFound)
		return
	}
	if st.Step != cur.N {
		st.Step = cur.N
		st.Furthest = max(st.Furthest, cur.N)
		saveCheckout(sess, st)
	}
	s.renderCheckout(w, r, st, cur, nil)
}

// renderCheckout renders the checkout page on step cur.
func (s *shop) renderCheckout(w http.ResponseWriter, r *http.Request, st checkoutState, cur step, errs map[string]string) {
	c := loadCart(sessionOf(r))
	d := checkoutData{
		Steps:    checkoutSteps,
		Step:     cur,
		Furthest: st.Furthest,
		Values:   st.Answers[cur.Slug],
		Errors:   errs,
		Answers:  st.Answers,
		Lines:    c.lines(),
		Subtotal: c.total(),
	}
	if d.Values == nil {
		d.Values = map[string]string{}
	}
	d.Shipping = shippingCost(st.Answers["delivery"]["method"])
	d.Total = d.Subtotal + d.Shipping
	s.render(w, r, http.StatusOK, "checkout", "Checkout", "checkout", d)
}

// checkoutPost stores the answers of a step whichever button was
// pressed, then goes back, on (if the step is valid), or places the order.
func (s *shop) checkoutPost(w http.ResponseWriter, r *http.Request) {
	sess := sessionOf(r)
	cur, ok := stepFromPath(r)
	if !ok {
		s.notFound(w, r)
		return
	}
	st, _ := loadCheckout(sess)
	if cur.N > max(st.Furthest, 1) {
		redirect(w, r, fmt.Sprintf("/checkout/%d", max(st.Furthest, 1)))
		return
	}
	answers := map[string]string{}
	for _, f := range cur.Fields {
		v := strings.TrimSpace(r.PostFormValue(f.Name))
		if f.Kind == "checkbox" && v != "" {
			v = "yes"
		}
		if len(v) > maxAnswer {
			v = v[:maxAnswer]
		}
		if v != "" {
			answers[f.Name] = v
		}
	}
	if st.Answers == nil {
		st.Answers = map[string]map[string]string{}
	}
	st.Answers[cur.Slug] = answers
	st.Step = cur.N
	nav := r.PostFormValue("nav")
	switch nav {
	case "back":
		st.Step = max(cur.N-1, 1)
		saveCheckout(sess, st)
		redirect(w, r, fmt.Sprintf("/checkout/%d", st.Step))
		return
	case "next", "place":
	default:
		s.errorPage(w, r, http.StatusBadRequest, "Bad request", "Unknown form action.", "")
		return
	}
	if errs := cur.validate(answers); len(errs) > 0 {
		saveCheckout(sess, st)
		s.renderCheckout(w, r, st, cur, errs)
		return
	}
	if nav == "next" && cur.N < len(checkoutSteps) {
		st.Step = cur.N + 1
		st.Furthest = max(st.Furthest, st.Step)
		saveCheckout(sess, st)
		redirect(w, r, fmt.Sprintf("/checkout/%d", st.Step))
		return
	}
	// Place the order: every step must be valid and the cart not empty.
	saveCheckout(sess, st)
	lang := s.language(r)
	for _, other := range checkoutSteps {
		if errs := other.validate(st.Answers[other.Slug]); len(errs) > 0 {
			messages.Error(sess, fmt.Sprintf(translate(lang, "Please complete the step “%s”."), translate(lang, other.Title)))
			redirect(w, r, fmt.Sprintf("/checkout/%d", other.N))
			return
		}
	}
	c := loadCart(sess)
	if c.count() == 0 {
		messages.Error(sess, translate(lang, "Your cart is empty."))
		redirect(w, r, "/cart")
		return
	}
	n, _ := rand.Int(rand.Reader, big.NewInt(900000))
	o := order{Number: fmt.Sprintf("SK-%d", 100000+n.Int64()), Total: c.total() + shippingCost(st.Answers["delivery"]["method"]), Items: c.count()}
	sess.Delete(cartKey)
	sess.Delete(checkoutKey)
	sess.Set(lastOrderKey, o)
	messages.Success(sess, fmt.Sprintf(translate(lang, "Thank you! Order %s is on its way."), o.Number))
	redirect(w, r, "/")
}
