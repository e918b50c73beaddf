// Package filestore is Django's file session engine: one file per session
// in a directory, named and filled exactly as Django's
// django.contrib.sessions.backends.file names and fills them, so a Django
// app and a Go service can share the directory (with the same SECRET_KEY
// and SESSION_COOKIE_AGE).
//
// Each session is the file <dir>/<cookie name><key>, for example
// /var/lib/myapp/sessions/sessionidabcdefghijklmnopqrstuvwxyz012345,
// holding the encoded session data as given (Django's signed string, no
// newline). An empty file, which Django creates as a placeholder, is a
// session with empty data. The engine implements every optional interface:
// ExpiredDeleter, Lister, Toucher, Swapper and UserIndexer.
//
// # URL
//
//	file:///var/lib/myapp/sessions     an absolute directory
//	file:relative/dir                  a directory relative to the working directory
//	file                               Django's name: the directory is Settings.FilePath (SESSION_FILE_PATH)
//
// Parameters:
//
//	allow_shared_dir=true   accept a directory writable by group or others (refused by default)
//	sync=false              skip fsync (see Durability; default true)
//
// The directory must exist and must not be writable by group or others: a
// user who can write there can plant or replace sessions. Unlike Django,
// the engine never falls back to the system's temporary directory.
//
// # Durability
//
// Every write goes to a temporary file in the same directory (named
// <cookie name><key>_out_<time>.<random>, which Django and this engine
// never take for a session), is fsynced, then renamed over the session
// file, and the directory is fsynced. A process crash or a power loss
// therefore leaves either the old or the new content of a session, never
// a torn or empty file, and a write that returned nil survives a power
// loss. Create links the new file into place, which fails if a file is
// already there, so two processes cannot both create the same key (on a
// file system without hard links it falls back to Django's method, an
// exclusive empty placeholder that is then replaced). Temporary files left
// by a crash are removed by DeleteExpired once they are an hour old.
//
// With sync=false the fsyncs are skipped: a process crash still leaves old
// or new content (the kernel has the data), but an operating system crash
// or power loss may lose the writes of the last seconds and, on some file
// systems, leave empty session files (read as empty sessions).
//
// Update, Swap, Touch and Delete lock the session file (flock(2), after
// an in-process lock) while they check and change it, and make sure the
// file they locked is still the one in place. So Swap never loses an
// update and Update never brings back a session that Delete removed, even
// between several processes sharing the directory. Django's own engine
// takes no locks: against a Django process writing the same session only
// the atomicity of each write holds, as between two Django processes. On
// platforms without flock (Windows, Solaris) the lock holds within one
// process only.
//
// # Expiry
//
// One rule decides when a session file expires, whoever wrote it (Go or
// Django): Django's, from backends/file.py. An absolute (ISO-8601)
// _session_expiry in the data is the expiry; a negative one means
// expired; otherwise the expiry is the file's modification time plus the
// data's lifetime: SESSION_COOKIE_AGE when the data carry no
// _session_expiry (or 0, as set_expiry(0) writes). The one difference is
// a positive relative _session_expiry (Django's set_expiry(seconds), Go's
// SetExpiry): Django's file engine reads it as an age that never runs
// down, so it never expires such a session (neither does its
// clearsessions), which would leave a stolen cookie of a 5-minute session
// valid for ever; Go expires it that many seconds after the
// modification time, as Django's database and cache engines do. Both
// sides must use the same cookie age.
//
// Writes set the modification time to the save time, as Django does,
// whenever the expiry the Manager passes is the one the data imply (the
// save time plus their lifetime). When it is sooner (an idle timeout,
// sessions.Settings.IdleTimeout), the modification time is moved back so
// that the rule yields exactly that expiry, for Go and, for data without
// a custom expiry, for Django. Data with an absolute expiry are the
// exception: the rule reads no modification time for them, so their date
// rules on both sides and an idle timeout does not shorten them.
//
// An expired session is never returned; it is not removed on read (Load
// never writes) but by DeleteExpired, Django's clearsessions, which reads
// every session file (in chunks, so it clears a directory of any size in
// bounded memory) and removes exactly those Load refuses. Files whose
// names are not <cookie name><valid key> are never touched, apart from
// this engine's and Django's stale temporary files.
//
// Modification times are clamped to the years 1970 to 2200, and are only
// as precise as the file system (nanoseconds on ext4, XFS, Btrfs and
// tmpfs).
//
// # User index
//
// Sessions bound to a user (sessions.Manager.BindUser, for "log out
// everywhere") are indexed under the subdirectory .sessionkit-users: one
// directory per user, named by the SHA-256 of the user ID, holding a file
// per session key whose modification time is the entry's expiry and whose
// content is its metadata (sessions.DeviceSettings; empty when none).
// DeleteExpired purges its expired entries.
package filestore
