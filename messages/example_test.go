package messages_test

import (
	"context"
	"fmt"
	"html/template"
	"os"

	"github.com/sessionkit/sessions"
	_ "github.com/sessionkit/sessions/backends/memstore"
	"github.com/sessionkit/sessions/messages"
)

func exampleManager() *sessions.Manager {
	s := sessions.DefaultSettings()
	s.SecretKey = "example secret key"
	m, err := sessions.Open(context.Background(), "memory:", s)
	if err != nil {
		panic(err)
	}
	return m
}

// A request adds messages; the next one shows them, once.
func Example() {
	ctx := context.Background()
	m := exampleManager()
	defer m.Close()

	// A form handler (in a real app: sessions.FromContext(r.Context())).
	s := m.NewSession(ctx)
	messages.Success(s, "Profile saved.")
	messages.Warning(s, "Your password expires in 3 days.", messages.ExtraTags("sticky"))
	messages.Debug(s, "dropped: below Django's default MESSAGE_LEVEL")
	s.Save(ctx) // the middleware saves it with the response

	// The next page.
	next := m.Load(ctx, s.Key())
	for _, msg := range messages.Get(next) {
		fmt.Printf("%s: %s\n", msg.Tags(), msg.Text)
	}
	next.Save(ctx)

	// Shown once.
	fmt.Println(len(messages.Get(m.Load(ctx, s.Key()))), "left")
	// Output:
	// success: Profile saved.
	// sticky warning: Your password expires in 3 days.
	// 0 left
}

// Peek looks without consuming, for example to show a count in a menu.
func ExamplePeek() {
	m := exampleManager()
	defer m.Close()
	s := m.NewSession(context.Background())
	messages.Info(s, "You have a new follower.")
	fmt.Println(len(messages.Peek(s)), "waiting")
	fmt.Println(len(messages.Get(s)), "shown")
	fmt.Println(len(messages.Peek(s)), "waiting")
	// Output:
	// 1 waiting
	// 1 shown
	// 0 waiting
}

// A Config holds Django's MESSAGE_LEVEL and MESSAGE_TAGS, here with
// Bootstrap's "danger" for errors and debug messages kept.
func ExampleConfig() {
	flash := &messages.Config{
		MinLevel: messages.LevelDebug,
		Tags:     map[messages.Level]string{messages.LevelError: "danger"},
	}
	m := exampleManager()
	defer m.Close()
	s := m.NewSession(context.Background())
	flash.Debug(s, "Query took 3 ms.")
	flash.Error(s, "Payment refused.")
	for _, msg := range flash.Get(s) {
		fmt.Printf("alert-%s: %s\n", msg.LevelTag, msg.Text)
	}
	// Output:
	// alert-debug: Query took 3 ms.
	// alert-danger: Payment refused.
}

// Message.HTML escapes the text unless it was added with Safe (Django's
// mark_safe), as Django's templates do.
func ExampleMessage_HTML() {
	m := exampleManager()
	defer m.Close()
	s := m.NewSession(context.Background())
	messages.Info(s, "Welcome, <Tom & Jerry>!")
	messages.Success(s, `Read the <a href="/terms">terms</a>.`, messages.Safe())
	t := template.Must(template.New("").Parse(`{{range .}}<li class="{{.Tags}}">{{.HTML}}</li>
{{end}}`))
	t.Execute(os.Stdout, messages.Get(s))
	// Output:
	// <li class="info">Welcome, &lt;Tom &amp; Jerry&gt;!</li>
	// <li class="success">Read the <a href="/terms">terms</a>.</li>
}

// Encode writes what Django's SessionStorage stores under "_messages".
func ExampleEncode() {
	fmt.Println(messages.Encode([]messages.Message{
		{Level: messages.LevelSuccess, Text: "Café ordered."},
		{Level: messages.LevelError, Text: "<b>Out of stock</b>", ExtraTags: "sticky", Safe: true},
	}))
	// Output:
	// [["__json_message", 0, 25, "Caf\u00e9 ordered.", ""], ["__json_message", 1, 40, "<b>Out of stock</b>", "sticky"]]
}

// Decode reads it back, with Django's default level tags.
func ExampleDecode() {
	msgs, err := messages.Decode(`[["__json_message", 0, 30, "Disk almost full"], ["__json_message", 1, 20, "<i>hi</i>", "x"]]`)
	if err != nil {
		panic(err)
	}
	for _, msg := range msgs {
		fmt.Printf("%d %q safe=%v tags=%q\n", msg.Level, msg.Text, msg.Safe, msg.Tags())
	}
	// Output:
	// 30 "Disk almost full" safe=false tags="warning"
	// 20 "<i>hi</i>" safe=true tags="x info"
}
