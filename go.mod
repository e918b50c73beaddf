module github.com/sessionkit/sessions

go 1.26
