package main

import (
	"context"
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"strconv"
	"strings"
	"unicode/utf8"
)

// user is one of the demo shop's built-in accounts. Password holds the
// password as Django's auth_user.password column does:
// "pbkdf2_sha256$<iterations>$<salt>$<base64 hash>", Django's default
// hasher, so djangoauth's session hash is the one Django would compute.
type user struct {
	ID       string // Django's primary key, as a string (_auth_user_id)
	Username string
	Name     string
	Password string // Django password hash
	Plain    string // the demo password, shown on the login page
}

// demoUsers are the accounts of the demo shop. Their passwords are shown
// on the login page; the hashes were made with Django's default of
// 600,000 PBKDF2-SHA256 iterations and fixed salts, so that sessions stay
// valid when the demo restarts.
var demoUsers = []user{
	{ID: "1", Username: "alice", Name: "Alice", Plain: "wonderland",
		Password: "pbkdf2_sha256$600000$Qm9rSxW2vNf8LcYt3hJp1a$2LrhPOQdiPMR86Vr/CtOuI8HpDxG3lheYlrnU5D6CUg="},
	{ID: "2", Username: "bob", Name: "Bob", Plain: "builder",
		Password: "pbkdf2_sha256$600000$Zt7uXe4RkW9sGd2nVb6yHq$v5047tYH8UdTM+yKjf1049kgsLhy9d4C43hreqYNA8A="},
	{ID: "3", Username: "chloe", Name: "Chloé", Plain: "croissant",
		Password: "pbkdf2_sha256$600000$Lp3mFa8TqZ1wRc5xKj7eNu$+ufbbOUFT4sgNcSTRsW/gmUFUEKpwpjsAPjVkGAOhn4="},
}

// makePassword returns a Django pbkdf2_sha256 hash of password.
func makePassword(password, salt string, iterations int) string {
	k, err := pbkdf2.Key(sha256.New, password, []byte(salt), iterations, sha256.Size)
	if err != nil {
		panic(err) // only for out-of-range parameters, which callers never pass
	}
	return "pbkdf2_sha256$" + strconv.Itoa(iterations) + "$" + salt + "$" + base64.StdEncoding.EncodeToString(k)
}

// checkPassword reports whether password matches a Django pbkdf2_sha256
// hash, as Django's check_password does.
func checkPassword(password, encoded string) bool {
	parts := strings.Split(encoded, "$")
	if len(parts) != 4 || parts[0] != "pbkdf2_sha256" {
		return false
	}
	n, err := strconv.Atoi(parts[1])
	if err != nil || n < 1 || n > 10_000_000 {
		return false
	}
	want := makePassword(password, parts[2], n)
	return subtle.ConstantTimeCompare([]byte(want), []byte(encoded)) == 1
}

// userByID returns the user with the given primary key.
func (s *shop) userByID(id string) (*user, bool) {
	for i := range s.users {
		if s.users[i].ID == id {
			return &s.users[i], true
		}
	}
	return nil, false
}

// authenticate returns the user whose username and password match. An
// unknown username costs one hash too, as in Django, so the time taken
// does not tell which usernames exist.
func (s *shop) authenticate(username, password string) (*user, bool) {
	username = strings.ToLower(strings.TrimSpace(username))
	for i := range s.users {
		if s.users[i].Username == username {
			if checkPassword(password, s.users[i].Password) {
				return &s.users[i], true
			}
			return nil, false
		}
	}
	if len(s.users) > 0 {
		checkPassword(password, s.users[0].Password)
	}
	return nil, false
}

// lookupPassword is the djangoauth.Lookup of the demo users.
func (s *shop) lookupPassword(_ context.Context, id string) (string, bool, error) {
	u, ok := s.userByID(id)
	if !ok {
		return "", false, nil
	}
	return u.Password, true, nil
}

// Initial returns the first letter of the user's name, for the avatar.
func (u *user) Initial() string {
	r, _ := utf8.DecodeRuneInString(u.Name)
	return string(r)
}
