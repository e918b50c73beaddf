package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/observe"
)

// newMetricsShop returns a shop over a fresh engine with the debug tools
// on, its Manager observed by the returned metrics.
func newMetricsShop(t *testing.T, config string) (*shop, *metrics) {
	t.Helper()
	met := newMetrics()
	st := testSettings()
	st.Observer = met
	m, err := sessions.Open(context.Background(), config, st)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	s, err := newShop(m, shopOptions{DebugAPI: true, Metrics: met, Users: testUsers})
	if err != nil {
		t.Fatal(err)
	}
	return s, met
}

// tabClient is a browser over real HTTP: every tab of it shares the
// cookie jar, as a browser's tabs do.
type tabClient struct {
	t     *testing.T
	base  string
	c     *http.Client
	token string // the CSRF token of the last page read
}

func newTabClient(t *testing.T, base string) *tabClient {
	jar, _ := cookiejar.New(nil)
	return &tabClient{t: t, base: base, c: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// get reads a page and remembers its CSRF token.
func (c *tabClient) get(path string) (int, string) {
	c.t.Helper()
	res, err := c.c.Get(c.base + path)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if m := tokenRE.FindSubmatch(b); m != nil {
		c.token = string(m[1])
	}
	return res.StatusCode, string(b)
}

// post submits a form with token; it is safe to call from another
// goroutine (it reports errors rather than failing the test).
func (c *tabClient) post(path, token string, form url.Values) (*http.Response, error) {
	form.Set(csrfFormField, token)
	res, err := c.c.PostForm(c.base+path, form)
	if err != nil {
		return nil, err
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res, nil
}

// Two tabs add to the cart at once: the slow one loaded the session
// before the other saved, so its save meets a conflict, merges it (the
// cart keeps both additions) and /metrics shows the conflict merged, as
// a page, as JSON and as text.
func TestMetricsShowTwoTabsMerged(t *testing.T) {
	s, _ := newMetricsShop(t, "memory:")
	held, release := make(chan struct{}), make(chan struct{})
	s.pause = func(ctx context.Context) bool {
		close(held)
		select {
		case <-release:
			return true
		case <-ctx.Done():
			return false
		}
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	tab := newTabClient(t, srv.URL)
	if code, body := tab.get("/metrics"); code != http.StatusOK || !strings.Contains(body, `id="metrics-conflicts"><b>0</b>`) {
		t.Fatalf("GET /metrics: %d\n%s", code, body)
	}
	if res, err := tab.post("/cart/add", tab.token, url.Values{"sku": {"tee"}}); err != nil || res.StatusCode != http.StatusSeeOther {
		t.Fatalf("add a tee: %v %v", res, err)
	}

	// Tab 1: the slow add, which loads the session and waits.
	type result struct {
		res *http.Response
		err error
	}
	slow := make(chan result, 1)
	token := tab.token
	go func() {
		res, err := tab.post("/debug/slow-add", token, url.Values{"sku": {"mug"}})
		slow <- result{res, err}
	}()
	select {
	case <-held:
	case r := <-slow:
		t.Fatalf("the slow add did not hold: %v %v", r.res, r.err)
	case <-time.After(10 * time.Second):
		t.Fatal("the slow add never held its request")
	}
	// Tab 2, meanwhile.
	if res, err := tab.post("/cart/add", token, url.Values{"sku": {"jar"}}); err != nil || res.StatusCode != http.StatusSeeOther {
		t.Fatalf("add a jar from the second tab: %v %v", res, err)
	}
	close(release)
	r := <-slow
	if r.err != nil || r.res.StatusCode != http.StatusSeeOther || r.res.Header.Get("Location") != "/cart" {
		t.Fatalf("the slow add: %v %v", r.res, r.err)
	}

	// The cart holds all three: the slow add merged the jar in.
	res, err := tab.c.Get(srv.URL + "/api/session")
	if err != nil {
		t.Fatal(err)
	}
	var sess struct {
		Data map[string]any `json:"data"`
	}
	json.NewDecoder(res.Body).Decode(&sess)
	res.Body.Close()
	if c := cartOf(sess.Data[cartKey]); len(c) != 3 || c["tee"] != 1 || c["mug"] != 1 || c["jar"] != 1 {
		t.Errorf("the cart after two tabs added at once: %v", sess.Data[cartKey])
	}

	res, err = tab.c.Get(srv.URL + "/metrics?format=json")
	if err != nil {
		t.Fatal(err)
	}
	var snap metricsSnapshot
	err = json.NewDecoder(res.Body).Decode(&snap)
	res.Body.Close()
	if err != nil || res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /metrics?format=json: %v %q", err, res.Header.Get("Content-Type"))
	}
	if snap.Engine != "memory" || snap.Conflicts != 1 || snap.Merged != 1 || snap.Failed != 0 || snap.Retries < 1 {
		t.Errorf("metrics after the collision: %+v", snap)
	}
	if c := callOf(snap, observe.OpUpdate); c.Count < 3 || c.Outcomes["ok"] != c.Count || c.MaxUS <= 0 || c.MeanUS <= 0 || c.MeanUS > c.MaxUS {
		t.Errorf("update calls: %+v", c)
	}
	if c := callOf(snap, observe.OpLoad); c.Outcomes["hit"] < 3 {
		t.Errorf("load calls: %+v", c)
	}

	_, body := tab.get("/metrics")
	for _, want := range []string{`id="metrics-conflicts"><b>1</b>`, `id="metrics-merged">1<`, `id="metrics-failed">0<`, `id="metrics-live"`, `id="slow-add-mug"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the metrics page lacks %q", want)
		}
	}
	if strings.Contains(body, `http-equiv="refresh"`) {
		t.Error("the metrics page reloads itself unasked")
	}
	if _, body := tab.get("/metrics?refresh=2"); !strings.Contains(body, `<meta http-equiv="refresh" content="2">`) || !strings.Contains(body, `id="metrics-stop"`) {
		t.Errorf("the metrics page with ?refresh=2 does not reload:\n%s", body)
	}
	_, body = tab.get("/metrics?format=text")
	for _, want := range []string{
		"sessionkit_conflicts_total{result=\"merged\"} 1\n",
		"sessionkit_conflicts_total{result=\"failed\"} 0\n",
		"sessionkit_events_total{engine=\"memory\",op=\"conflict\",outcome=\"ok\"} 1\n",
		"# TYPE sessionkit_call_duration_seconds summary\n",
		"sessionkit_call_duration_seconds_count{op=\"update\"} ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the text metrics lack %q:\n%s", want, body)
		}
	}
}

// callOf returns the summary of one engine call.
func callOf(s metricsSnapshot, op observe.Op) callSummary {
	for _, c := range s.Calls {
		if c.Op == op {
			return c
		}
	}
	return callSummary{}
}

// The slow add really holds (for the shop's hold), and a request whose
// client went away changes nothing.
func TestMetricsSlowAddHolds(t *testing.T) {
	s, _ := newMetricsShop(t, "memory:")
	s.hold = 50 * time.Millisecond
	b := newBrowser(t, s.Handler())
	b.get("/metrics")
	start := time.Now()
	r := b.post("/debug/slow-add", url.Values{"sku": {"notebook"}})
	if took := time.Since(start); r.StatusCode != http.StatusSeeOther || took < s.hold {
		t.Fatalf("slow add: %d after %v", r.StatusCode, took)
	}
	if r = b.get("/cart"); !strings.Contains(r.body, `id="line-notebook" data-qty="1"`) || !strings.Contains(r.body, "after holding the request for 50ms") {
		t.Errorf("the cart after a slow add:\n%s", r.body)
	}
	if r = b.post("/debug/slow-add", url.Values{"sku": {"nope"}}); r.StatusCode != http.StatusBadRequest {
		t.Errorf("an unknown product: %d", r.StatusCode)
	}

	s.hold = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	form := url.Values{"sku": {"tote"}, csrfFormField: {b.token}}
	req := httptest.NewRequestWithContext(ctx, "POST", "http://shop.test/debug/slow-add", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range b.jar.Cookies(b.base) {
		req.AddCookie(c)
	}
	time.AfterFunc(20*time.Millisecond, cancel)
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	if strings.Contains(b.get("/cart").body, `id="line-tote"`) {
		t.Error("a slow add whose client went away changed the cart")
	}
}

// The metrics and the slow add are debug tools: without the debug flag
// (or without an observer) they are not served, and the about page does
// not link them.
func TestMetricsOnlyWithTheDebugFlag(t *testing.T) {
	met := newMetrics()
	st := testSettings()
	st.Observer = met
	m, err := sessions.Open(context.Background(), "memory:", st)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for _, o := range []shopOptions{{Metrics: met}, {DebugAPI: true}} {
		o.Users = testUsers
		s, err := newShop(m, o)
		if err != nil {
			t.Fatal(err)
		}
		b := newBrowser(t, s.Handler())
		if r := b.get("/metrics"); r.StatusCode != http.StatusNotFound {
			t.Errorf("%+v: GET /metrics: %d", o, r.StatusCode)
		}
		if r := b.post("/debug/slow-add", url.Values{"sku": {"mug"}}); r.StatusCode != http.StatusNotFound {
			t.Errorf("%+v: POST /debug/slow-add: %d", o, r.StatusCode)
		}
		if r := b.get("/about"); strings.Contains(r.body, `href="/metrics"`) {
			t.Errorf("%+v: the about page links the metrics", o)
		}
	}
	s, _ := newMetricsShop(t, "memory:")
	b := newBrowser(t, s.Handler())
	if r := b.get("/about"); !strings.Contains(r.body, `id="about-metrics-link"`) {
		t.Error("the about page does not link the metrics")
	}
	if r := b.get("/metrics?format=xml"); r.StatusCode != http.StatusBadRequest {
		t.Errorf("an unknown format: %d", r.StatusCode)
	}
}

func TestMetricsObserver(t *testing.T) {
	met := newMetrics()
	ctx := context.Background()
	for _, e := range []observe.Event{
		{Engine: "redis", Op: observe.OpLoad, Outcome: observe.OutcomeHit, Duration: 2 * time.Millisecond},
		{Engine: "redis", Op: observe.OpLoad, Outcome: observe.OutcomeMiss, Duration: 4 * time.Millisecond},
		{Engine: "redis", Op: observe.OpLoad, Outcome: observe.OutcomeError, Err: observe.ErrStore, Duration: 6 * time.Millisecond},
		{Engine: "redis", Op: observe.OpConflict, Outcome: observe.OutcomeOK, Retries: 2, Merged: true},
		{Engine: "redis", Op: observe.OpConflict, Outcome: observe.OutcomeError, Retries: 33, Err: sessions.ErrConflict},
		{Engine: "redis", Op: observe.OpInterrupted, Outcome: observe.OutcomeError, Err: sessions.ErrInterrupted},
		{Engine: "redis", Op: observe.OpIdleRefresh, Outcome: observe.OutcomeOK},
		{Engine: "redis", Op: observe.OpIdleRefresh, Outcome: observe.OutcomeOK},
		{Engine: "redis", Op: observe.OpCycle, Outcome: observe.OutcomeOK},
		{Engine: "redis", Op: observe.OpTooLarge, Outcome: observe.OutcomeError},
		{Engine: "redis", Op: observe.OpClearExpired, Outcome: observe.OutcomeOK, Count: 7, Duration: time.Millisecond},
	} {
		met.Observe(ctx, e)
	}
	s := met.snapshot("redis")
	if s.Conflicts != 2 || s.Merged != 1 || s.Failed != 1 || s.Retries != 35 || s.Interrupted != 1 || s.IdleRefreshes != 2 ||
		s.Cycles != 1 || s.TooLarge != 1 || s.Cleared != 7 {
		t.Errorf("snapshot: %+v", s)
	}
	load := callOf(s, observe.OpLoad)
	if load.Count != 3 || load.MeanUS != 4000 || load.MaxUS != 6000 || load.OutcomeText() != "error 1 · hit 1 · miss 1" || load.Mean() != "4.0 ms" {
		t.Errorf("load: %+v", load)
	}
	if len(s.Calls) != 2 || s.Calls[0].Op != observe.OpLoad || s.Calls[1].Op != observe.OpClearExpired {
		t.Errorf("calls: %+v", s.Calls)
	}
	if s.Events[0].Op != observe.OpLoad || s.Events[len(s.Events)-1].Op != observe.OpTooLarge {
		t.Errorf("events out of order: %+v", s.Events)
	}
	var b strings.Builder
	s.writeText(&b)
	for _, want := range []string{
		"sessionkit_events_total{engine=\"redis\",op=\"load\",outcome=\"hit\"} 1\n",
		"sessionkit_conflict_retries_total 35\n",
		"sessionkit_call_duration_seconds_sum{op=\"load\"} 0.012\n",
		"sessionkit_call_duration_max_seconds{op=\"load\"} 0.006\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, b.String())
		}
	}
}

func TestMergeCartAdd(t *testing.T) {
	for _, tc := range []struct {
		base, theirs, ours any
		want               cart
	}{
		// This request added a mug to an empty cart; another added a jar.
		{nil, map[string]any{"jar": int64(1)}, map[string]int{"mug": 1}, cart{"jar": 1, "mug": 1}},
		// Both added mugs.
		{map[string]any{"mug": int64(1)}, map[string]any{"mug": int64(2)}, map[string]int{"mug": 2}, cart{"mug": 3}},
		// Numbers as floats, unknown products and junk are dropped.
		{map[string]any{"mug": 1.0}, map[string]any{"mug": 1.0, "nope": 3.0, "tee": "x"}, map[string]int{"mug": 2}, cart{"mug": 2}},
		// Quantities stay within 1–99.
		{nil, map[string]any{"mug": int64(98)}, map[string]int{"mug": 5}, cart{"mug": maxQty}},
	} {
		got, keep := mergeCartAdd(tc.base, tc.theirs, tc.ours)
		if c := cartOf(got); !keep || len(c) != len(tc.want) || !mapsEqual(c, tc.want) {
			t.Errorf("mergeCartAdd(%v, %v, %v) = %v, %v; want %v", tc.base, tc.theirs, tc.ours, got, keep, tc.want)
		}
	}
	if _, keep := mergeCartAdd(map[string]any{"mug": int64(1)}, nil, map[string]int{"mug": 1}); keep {
		t.Error("an emptied cart is kept")
	}
}

func mapsEqual(a, b cart) bool {
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return len(a) == len(b)
}
