package main

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/messages"
)

// --- your devices -------------------------------------------------------------
//
// The shop binds each login to its user (Manager.BindUser), so that the
// engine's user index lists every session of a user with its metadata
// (Settings.Devices): where else you are logged in, which you can end one
// by one, or all but this one.

// deviceView is one line of the devices page.
type deviceView struct {
	ID        string
	Current   bool
	UserAgent string
	IP        string
	CreatedAt string
	LastSeen  string
}

// devicesData is the data of the devices page.
type devicesData struct {
	Devices     []deviceView
	Unsupported bool // the engine keeps no user index
	Others      int  // sessions besides this one
}

// bindLogin records the session of a login in the user index; an engine
// without one (the signed cookie) simply has no devices page.
func (s *shop) bindLogin(r *http.Request, sess *sessions.Session, u *user) error {
	if err := s.m.BindUser(r.Context(), sess, u.ID); err != nil && !errors.Is(err, sessions.ErrUnsupported) {
		return err
	}
	return nil
}

// devicesPage lists the sessions of the logged-in user, newest first,
// this one marked.
func (s *shop) devicesPage(w http.ResponseWriter, r *http.Request) {
	u, _ := s.currentUser(r)
	sess := sessionOf(r)
	devs, err := s.m.UserSessions(r.Context(), u.ID)
	var d devicesData
	switch {
	case errors.Is(err, sessions.ErrUnsupported):
		d.Unsupported = true
	case err != nil:
		s.serverError(w, r, err)
		return
	}
	lang := s.language(r)
	current := s.m.DeviceID(sess.Key())
	for _, dev := range devs {
		v := deviceView{
			ID:        dev.ID,
			Current:   dev.ID == current,
			UserAgent: dev.UserAgent,
			IP:        dev.IP,
			CreatedAt: deviceTime(lang, dev.CreatedAt),
			LastSeen:  deviceTime(lang, dev.LastSeen),
		}
		if v.UserAgent == "" {
			v.UserAgent = translate(lang, "Unknown browser")
		}
		if !v.Current {
			d.Others++
		}
		d.Devices = append(d.Devices, v)
	}
	s.render(w, r, http.StatusOK, "devices", "Your devices", "devices", d)
}

// deviceTime writes a device's time, or "unknown" when none was recorded.
func deviceTime(lang string, t time.Time) string {
	if t.IsZero() {
		return translate(lang, "unknown")
	}
	return t.UTC().Format("2006-01-02 15:04 MST")
}

// devicesEnd ends one session of the user (the form's id), never this
// one: logging out is the logout page's job.
func (s *shop) devicesEnd(w http.ResponseWriter, r *http.Request) {
	u, _ := s.currentUser(r)
	sess := sessionOf(r)
	lang := s.language(r)
	id := r.PostFormValue("id")
	if id != "" && id == s.m.DeviceID(sess.Key()) {
		redirect(w, r, "/logout")
		return
	}
	switch err := s.m.DeleteSession(r.Context(), u.ID, id); {
	case errors.Is(err, sessions.ErrNotFound):
		messages.Warning(sess, translate(lang, "That session had already ended."))
	case err != nil:
		s.serverError(w, r, err)
		return
	default:
		messages.Success(sess, translate(lang, "The session was ended: that device is logged out."))
	}
	redirect(w, r, "/devices")
}

// devicesEndOthers logs out every other session of the user.
func (s *shop) devicesEndOthers(w http.ResponseWriter, r *http.Request) {
	u, _ := s.currentUser(r)
	sess := sessionOf(r)
	n, err := s.m.DeleteUserExcept(r.Context(), u.ID, sess.Key())
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	lang := s.language(r)
	if n == 1 {
		messages.Success(sess, fmt.Sprintf(translate(lang, "Logged out %d other device."), n))
	} else {
		messages.Success(sess, fmt.Sprintf(translate(lang, "Logged out %d other devices."), n))
	}
	redirect(w, r, "/devices")
}
