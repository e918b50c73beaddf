package filestore

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/sessionkit/sessions"
	"github.com/sessionkit/sessions/internal/textutil"
)

func init() {
	sessions.Register(sessions.EngineInfo{
		Scheme: Scheme,
		Forms: []string{
			"file:///var/lib/myapp/sessions",
			"file:relative/dir",
			"file:///var/lib/myapp/sessions?sync=false",
			"file", // Django's name: the directory is Settings.FilePath
		},
		Doc: "one file per session in a private directory, as Django's file engine; atomic, fsynced writes",
	}, openURL)
}

func openURL(ctx context.Context, u *url.URL, s sessions.Settings) (sessions.Backend, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	dir, err := dirFromURL(u)
	if err != nil {
		return nil, err
	}
	p := sessions.ParseParams(u)
	o := Options{
		Dir:            dir,
		CookieName:     s.CookieName,
		CookieAge:      s.CookieAge,
		Codec:          s.Codec,
		AllowSharedDir: p.Bool("allow_shared_dir", false),
		NoSync:         !p.Bool("sync", true),
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	if o.Codec == nil {
		o.Codec = sessions.DefaultCodec(s)
	}
	maxData := s.MaxDataSize
	if maxData == 0 {
		maxData = 4 << 20
	}
	if m := int64(maxData)*2 + 4096; m > defaultMaxFileSize {
		o.MaxFileSize = m
	}
	return New(o)
}

// dirFromURL returns the directory a file: URL names.
func dirFromURL(u *url.URL) (string, error) {
	if u.Host != "" && !strings.EqualFold(u.Host, "localhost") {
		return "", fmt.Errorf("%w: file URL with host %s: write file:///absolute/dir or file:relative/dir", sessions.ErrBadConfig, textutil.Quote(u.Host))
	}
	if u.User != nil {
		return "", fmt.Errorf("%w: a file URL takes no user or password", sessions.ErrBadConfig)
	}
	dir := u.Path
	if u.Opaque != "" {
		d, err := url.PathUnescape(u.Opaque)
		if err != nil {
			return "", fmt.Errorf("%w: file URL path: %v", sessions.ErrBadConfig, err)
		}
		dir = d
	}
	if dir == "" {
		return "", fmt.Errorf("%w: the file engine needs a directory: file:///var/lib/myapp/sessions, file:relative/dir, or the \"file\" name with Settings.FilePath (SESSION_FILE_PATH)", sessions.ErrBadConfig)
	}
	return filepath.FromSlash(dir), nil
}
