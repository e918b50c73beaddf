package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The shop speaks English, French and German. The language chosen is
// kept in the session under "_language" (Django's LANGUAGE_SESSION_KEY);
// until then, the browser's Accept-Language decides.

// language is a language the shop speaks.
type language struct{ Code, Short, Name string }

// languages are the shop's languages, in the order the header lists them.
var languages = []language{
	{"en", "EN", "English"},
	{"fr", "FR", "Français"},
	{"de", "DE", "Deutsch"},
}

// knownLanguage reports whether the shop speaks code.
func knownLanguage(code string) bool {
	for _, l := range languages {
		if l.Code == code {
			return true
		}
	}
	return false
}

// pickLanguage returns the supported language the Accept-Language header
// prefers, or "en".
func pickLanguage(header string) string {
	best, bestQ := "en", -1.0
	for _, part := range strings.Split(header, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		base, _, _ := strings.Cut(strings.ToLower(tag), "-")
		if knownLanguage(base) && q > bestQ && q > 0 {
			best, bestQ = base, q
		}
	}
	return best
}

// translate returns key (an English text) in lang; English, and any text
// without a translation, are returned as they are.
func translate(lang, key string) string {
	if t, ok := translations[lang][key]; ok {
		return t
	}
	return key
}

// formatMoney writes cents in euros as each language does: €12.50,
// 12,50 €.
func formatMoney(lang string, cents int) string {
	s := fmt.Sprintf("%d.%02d", cents/100, cents%100)
	if lang == "en" {
		return "€" + s
	}
	return strings.Replace(s, ".", ",", 1) + "\u00a0€"
}

// humanDuration writes d roughly ("14 days", "3 hours", "5 minutes").
func humanDuration(lang string, d time.Duration) string {
	unit := func(n int64, one, many string) string {
		if n == 1 {
			return fmt.Sprintf(translate(lang, one), n)
		}
		return fmt.Sprintf(translate(lang, many), n)
	}
	switch {
	case d >= 48*time.Hour:
		return unit(int64(d/(24*time.Hour)), "%d day", "%d days")
	case d >= 2*time.Hour:
		return unit(int64(d/time.Hour), "%d hour", "%d hours")
	case d >= 2*time.Minute:
		return unit(int64(d/time.Minute), "%d minute", "%d minutes")
	}
	return unit(int64(max(d, 0)/time.Second), "%d second", "%d seconds")
}

// Plural translates the form of n that fits ("%d item" or "%d items") and
// formats it with n.
func (p *page) Plural(n int, one, other string) string {
	if n == 1 || (p.Lang == "fr" && n == 0) {
		return fmt.Sprintf(p.T(one), n)
	}
	return fmt.Sprintf(p.T(other), n)
}

// translations maps a language and an English text to the text in that
// language. English needs none.
var translations = map[string]map[string]string{
	"fr": {
		// Layout and navigation.
		"Main menu":                         "Menu principal",
		"Shop":                              "Boutique",
		"Cart":                              "Panier",
		"Checkout":                          "Commande",
		"Preferences":                       "Préférences",
		"About":                             "À propos",
		"Language":                          "Langue",
		"Light theme":                       "Thème clair",
		"Dark theme":                        "Thème sombre",
		"Log in":                            "Connexion",
		"Log out":                           "Déconnexion",
		"Session engine":                    "Moteur de session",
		"Your session ends":                 "Votre session se termine",
		"Django-compatible sessions for Go": "des sessions compatibles Django pour Go",
		"when you close your browser":       "à la fermeture du navigateur",
		"on %s (in %s)":                     "le %s (dans %s)",
		"%d day":                            "%d jour",
		"%d days":                           "%d jours",
		"%d hour":                           "%d heure",
		"%d hours":                          "%d heures",
		"%d minute":                         "%d minute",
		"%d minutes":                        "%d minutes",
		"%d second":                         "%d seconde",
		"%d seconds":                        "%d secondes",
		// Home.
		"Hello, %s!": "Bonjour, %s !",
		"Everything you do in this shop lives in your session: who you are, your cart, the checkout you started, your theme and language. Restart the server and it is all still here.": "Tout ce que vous faites dans cette boutique vit dans votre session : qui vous êtes, votre panier, la commande commencée, votre thème et votre langue. Redémarrez le serveur : tout est encore là.",
		"Your last order: %s (%s).":       "Votre dernière commande : %s (%s).",
		"Resume your checkout at step %d": "Reprendre votre commande à l’étape %d",
		"Your session":                    "Votre session",
		"Signed in as":                    "Connecté en tant que",
		"Engine":                          "Moteur",
		"Ends":                            "Fin",
		"%d item":                         "%d article",
		"%d items":                        "%d articles",
		"See the stored session":          "Voir la session stockée",
		"Products":                        "Produits",
		"%d in your cart":                 "%d dans votre panier",
		"Quantity":                        "Quantité",
		"Add to cart":                     "Ajouter",
		// Products.
		"Gopher mug":                       "Mug Gopher",
		"Session T-shirt":                  "T-shirt Session",
		"Cookie jar":                       "Boîte à cookies",
		"Notebook":                         "Carnet",
		"Sticker pack":                     "Lot d’autocollants",
		"Tote bag":                         "Sac en toile",
		"Holds a whole session of coffee.": "Contient une session entière de café.",
		"Soft cotton, printed with a 32-character key.": "Coton doux, imprimé d’une clé de 32 caractères.",
		"Signed, sealed and HttpOnly.":                  "Signée, scellée et HttpOnly.",
		"For the state you keep on the server.":         "Pour l’état que vous gardez sur le serveur.",
		"Eight stickers, one for each engine.":          "Huit autocollants, un par moteur.",
		"Carries a full cart across restarts.":          "Transporte un panier plein d’un redémarrage à l’autre.",
		// Login and logout.
		"You have been logged out.": "Vous avez été déconnecté.",
		"You are logged in as %s. Logging in again cycles your session key.": "Vous êtes connecté en tant que %s. Une nouvelle connexion change votre clé de session.",
		"Your cart still holds %d item: log in to check out.":                "Votre panier contient encore %d article : connectez-vous pour commander.",
		"Your cart still holds %d items: log in to check out.":               "Votre panier contient encore %d articles : connectez-vous pour commander.",
		"Please enter a correct username and password.":                      "Saisissez un nom d’utilisateur et un mot de passe valides.",
		"Username":    "Nom d’utilisateur",
		"Password":    "Mot de passe",
		"Remember me": "Se souvenir de moi",
		"Unchecked, your session ends when you close the browser (set_expiry(0)); checked, it lasts SESSION_COOKIE_AGE.": "Décoché, votre session se termine à la fermeture du navigateur (set_expiry(0)) ; coché, elle dure SESSION_COOKIE_AGE.",
		"Demo accounts": "Comptes de démonstration",
		"Passwords are stored as Django stores them (PBKDF2-SHA256, 600,000 iterations).": "Les mots de passe sont stockés comme Django les stocke (PBKDF2-SHA256, 600 000 itérations).",
		"Welcome, %s!": "Bienvenue, %s !",
		"Logging out flushes your session: it is deleted from the store and your cookie with it.": "La déconnexion vide votre session : elle est supprimée du stockage, et votre cookie avec elle.",
		"Keep my cart (%d item) for next time":                                                    "Garder mon panier (%d article) pour la prochaine fois",
		"Keep my cart (%d items) for next time":                                                   "Garder mon panier (%d articles) pour la prochaine fois",
		"Cancel":                                                                                  "Annuler",
		// Cart.
		"Your cart":                   "Votre panier",
		"Product":                     "Produit",
		"Price":                       "Prix",
		"Total":                       "Total",
		"Update":                      "Mettre à jour",
		"Remove":                      "Retirer",
		"Continue shopping":           "Continuer vos achats",
		"Your cart is empty.":         "Votre panier est vide.",
		"Go shopping":                 "Faire des achats",
		"Added %d × %s to your cart.": "%d × %s ajouté à votre panier.",
		"Removed %s from your cart.":  "%s retiré de votre panier.",
		"No such product, or a quantity outside 1–99.": "Produit inconnu, ou quantité hors de 1 à 99.",
		// Checkout.
		"Step %d of %d":                "Étape %d sur %d",
		"Back":                         "Retour",
		"Next":                         "Suivant",
		"Place order":                  "Passer la commande",
		"Summary":                      "Récapitulatif",
		"Shipping":                     "Livraison",
		"Shipping address":             "Adresse de livraison",
		"Delivery":                     "Livraison",
		"Payment":                      "Paiement",
		"gift-wrapped":                 "emballé en cadeau",
		"Full name":                    "Nom complet",
		"Street and number":            "Rue et numéro",
		"Postcode":                     "Code postal",
		"City":                         "Ville",
		"Country":                      "Pays",
		"France":                       "France",
		"Germany":                      "Allemagne",
		"United Kingdom":               "Royaume-Uni",
		"United States":                "États-Unis",
		"Elsewhere":                    "Ailleurs",
		"Delivery method":              "Mode de livraison",
		"Standard, 3 to 5 days":        "Standard, 3 à 5 jours",
		"Express, next day":            "Express, le lendemain",
		"Pick up in store":             "Retrait en magasin",
		"Wrap it as a gift":            "Emballer en cadeau",
		"Note for the courier":         "Note pour le livreur",
		"Payment method":               "Moyen de paiement",
		"Card on delivery":             "Carte à la livraison",
		"Invoice":                      "Facture",
		"Bank transfer":                "Virement bancaire",
		"E-mail for the receipt":       "E-mail pour le reçu",
		"This field is required.":      "Ce champ est obligatoire.",
		"Select a valid choice.":       "Sélectionnez un choix valide.",
		"Enter a valid email address.": "Saisissez une adresse e-mail valide.",
		"Your answers are kept in the session at every step, whichever button you press.": "Vos réponses sont gardées dans la session à chaque étape, quel que soit le bouton.",
		"Please complete the step “%s”.":                                                  "Complétez l’étape « %s ».",
		"Thank you! Order %s is on its way.":                                              "Merci ! La commande %s est en route.",
		"Unknown form action.":                                                            "Action de formulaire inconnue.",
		// Preferences.
		"Kept in your session, and applied to every page.": "Gardées dans votre session, et appliquées à chaque page.",
		"Theme":                      "Thème",
		"Light":                      "Clair",
		"Dark":                       "Sombre",
		"Save":                       "Enregistrer",
		"Preferences saved.":         "Préférences enregistrées.",
		"Unknown theme or language.": "Thème ou langue inconnus.",
		// About.
		"About this demo": "À propos de cette démo",
		"A shop built on sessionkit, the Django-compatible session framework for Go. This page shows where your session lives and what is in it, exactly as a Django app sharing the store would see it.": "Une boutique construite sur sessionkit, le framework de sessions compatible Django pour Go. Cette page montre où vit votre session et ce qu’elle contient, exactement comme une application Django partageant le stockage la verrait.",
		"Storage":                               "Stockage",
		"Config string":                         "Configuration",
		"Format":                                "Format",
		"Data directory":                        "Répertoire des données",
		"Cookie settings":                       "Réglages du cookie",
		"Session key":                           "Clé de session",
		"request.session, as Django decodes it": "request.session, tel que Django le décode",
		"As stored":                             "Tel que stocké",
		"the cookie's value":                    "la valeur du cookie",
		"session_data as stored":                "session_data tel que stocké",
		"You have no stored session yet.":       "Vous n’avez pas encore de session stockée.",
		"Django's signing format: base64 of the JSON (zlib-compressed when it starts with a dot), a timestamp and an HMAC-SHA256 signature, separated by colons.": "Le format de signature de Django : le JSON en base64 (compressé par zlib s’il commence par un point), un horodatage et une signature HMAC-SHA256, séparés par des deux-points.",
		"Live counts": "Compteurs en direct",
		"The engine's calls and the session decisions (conflicts merged, interrupts, idle refreshes), counted as they happen. Open it in two tabs to watch a conflict being merged.": "Les appels au moteur et les décisions sur les sessions (conflits fusionnés, interruptions, prolongations d’inactivité), comptés en direct. Ouvrez-la dans deux onglets pour voir un conflit fusionné.",
		// Devices.
		"Devices":      "Appareils",
		"Your devices": "Vos appareils",
		"Where you are logged in: each login is a session of its own. End one you do not recognise, or all but this one.": "Là où vous êtes connecté : chaque connexion est une session à part. Terminez celle que vous ne reconnaissez pas, ou toutes sauf celle-ci.",
		"This session engine keeps no index of users' sessions, so it cannot list them.":                                  "Ce moteur de sessions ne tient pas d’index des sessions des utilisateurs : il ne peut pas les lister.",
		"Browser":                         "Navigateur",
		"Address":                         "Adresse",
		"Logged in":                       "Connexion",
		"Last seen":                       "Dernière activité",
		"This device":                     "Cet appareil",
		"End":                             "Terminer",
		"Log out my other devices":        "Déconnecter mes autres appareils",
		"Unknown browser":                 "Navigateur inconnu",
		"unknown":                         "inconnu",
		"That session had already ended.": "Cette session était déjà terminée.",
		"The session was ended: that device is logged out.": "La session est terminée : cet appareil est déconnecté.",
		"Logged out %d other device.":                       "%d autre appareil déconnecté.",
		"Logged out %d other devices.":                      "%d autres appareils déconnectés.",
		// Errors.
		"Forbidden": "Interdit",
		"CSRF verification failed. Request aborted.": "La vérification CSRF a échoué. Requête interrompue.",
		"Page not found":                    "Page introuvable",
		"There is nothing at this address.": "Il n’y a rien à cette adresse.",
		"Bad request":                       "Requête incorrecte",
		"Back to the shop":                  "Retour à la boutique",
	},
	"de": {
		// Layout and navigation.
		"Main menu":                         "Hauptmenü",
		"Shop":                              "Shop",
		"Cart":                              "Warenkorb",
		"Checkout":                          "Kasse",
		"Preferences":                       "Einstellungen",
		"About":                             "Über",
		"Language":                          "Sprache",
		"Light theme":                       "Helles Design",
		"Dark theme":                        "Dunkles Design",
		"Log in":                            "Anmelden",
		"Log out":                           "Abmelden",
		"Session engine":                    "Session-Engine",
		"Your session ends":                 "Ihre Sitzung endet",
		"Django-compatible sessions for Go": "Django-kompatible Sessions für Go",
		"when you close your browser":       "beim Schließen des Browsers",
		"on %s (in %s)":                     "am %s (in %s)",
		"%d day":                            "%d Tag",
		"%d days":                           "%d Tagen",
		"%d hour":                           "%d Stunde",
		"%d hours":                          "%d Stunden",
		"%d minute":                         "%d Minute",
		"%d minutes":                        "%d Minuten",
		"%d second":                         "%d Sekunde",
		"%d seconds":                        "%d Sekunden",
		// Home.
		"Hello, %s!": "Hallo, %s!",
		"Everything you do in this shop lives in your session: who you are, your cart, the checkout you started, your theme and language. Restart the server and it is all still here.": "Alles, was Sie in diesem Shop tun, lebt in Ihrer Sitzung: wer Sie sind, Ihr Warenkorb, die begonnene Bestellung, Ihr Design und Ihre Sprache. Starten Sie den Server neu: alles ist noch da.",
		"Your last order: %s (%s).":       "Ihre letzte Bestellung: %s (%s).",
		"Resume your checkout at step %d": "Bestellung bei Schritt %d fortsetzen",
		"Your session":                    "Ihre Sitzung",
		"Signed in as":                    "Angemeldet als",
		"Engine":                          "Engine",
		"Ends":                            "Endet",
		"%d item":                         "%d Artikel",
		"%d items":                        "%d Artikel",
		"See the stored session":          "Gespeicherte Sitzung ansehen",
		"Products":                        "Produkte",
		"%d in your cart":                 "%d im Warenkorb",
		"Quantity":                        "Menge",
		"Add to cart":                     "Hinzufügen",
		// Products.
		"Gopher mug":                       "Gopher-Tasse",
		"Session T-shirt":                  "Session-T-Shirt",
		"Cookie jar":                       "Keksdose",
		"Notebook":                         "Notizbuch",
		"Sticker pack":                     "Aufkleber-Set",
		"Tote bag":                         "Stofftasche",
		"Holds a whole session of coffee.": "Fasst eine ganze Sitzung Kaffee.",
		"Soft cotton, printed with a 32-character key.": "Weiche Baumwolle, bedruckt mit einem 32-stelligen Schlüssel.",
		"Signed, sealed and HttpOnly.":                  "Signiert, versiegelt und HttpOnly.",
		"For the state you keep on the server.":         "Für den Zustand, den Sie auf dem Server halten.",
		"Eight stickers, one for each engine.":          "Acht Aufkleber, einer pro Engine.",
		"Carries a full cart across restarts.":          "Trägt einen vollen Warenkorb über Neustarts hinweg.",
		// Login and logout.
		"You have been logged out.": "Sie wurden abgemeldet.",
		"You are logged in as %s. Logging in again cycles your session key.": "Sie sind als %s angemeldet. Eine erneute Anmeldung erneuert Ihren Sitzungsschlüssel.",
		"Your cart still holds %d item: log in to check out.":                "Ihr Warenkorb enthält noch %d Artikel: melden Sie sich zum Bestellen an.",
		"Your cart still holds %d items: log in to check out.":               "Ihr Warenkorb enthält noch %d Artikel: melden Sie sich zum Bestellen an.",
		"Please enter a correct username and password.":                      "Bitte geben Sie einen gültigen Benutzernamen und ein gültiges Passwort ein.",
		"Username":    "Benutzername",
		"Password":    "Passwort",
		"Remember me": "Angemeldet bleiben",
		"Unchecked, your session ends when you close the browser (set_expiry(0)); checked, it lasts SESSION_COOKIE_AGE.": "Nicht angehakt, endet Ihre Sitzung beim Schließen des Browsers (set_expiry(0)); angehakt, dauert sie SESSION_COOKIE_AGE.",
		"Demo accounts": "Demo-Konten",
		"Passwords are stored as Django stores them (PBKDF2-SHA256, 600,000 iterations).": "Passwörter werden wie bei Django gespeichert (PBKDF2-SHA256, 600.000 Iterationen).",
		"Welcome, %s!": "Willkommen, %s!",
		"Logging out flushes your session: it is deleted from the store and your cookie with it.": "Beim Abmelden wird Ihre Sitzung geleert: Sie wird aus dem Speicher gelöscht, und Ihr Cookie mit ihr.",
		"Keep my cart (%d item) for next time":                                                    "Meinen Warenkorb (%d Artikel) für das nächste Mal behalten",
		"Keep my cart (%d items) for next time":                                                   "Meinen Warenkorb (%d Artikel) für das nächste Mal behalten",
		"Cancel":                                                                                  "Abbrechen",
		// Cart.
		"Your cart":                   "Ihr Warenkorb",
		"Product":                     "Produkt",
		"Price":                       "Preis",
		"Total":                       "Summe",
		"Update":                      "Ändern",
		"Remove":                      "Entfernen",
		"Continue shopping":           "Weiter einkaufen",
		"Your cart is empty.":         "Ihr Warenkorb ist leer.",
		"Go shopping":                 "Einkaufen",
		"Added %d × %s to your cart.": "%d × %s in den Warenkorb gelegt.",
		"Removed %s from your cart.":  "%s aus dem Warenkorb entfernt.",
		"No such product, or a quantity outside 1–99.": "Unbekanntes Produkt oder Menge außerhalb von 1 bis 99.",
		// Checkout.
		"Step %d of %d":                "Schritt %d von %d",
		"Back":                         "Zurück",
		"Next":                         "Weiter",
		"Place order":                  "Bestellen",
		"Summary":                      "Übersicht",
		"Shipping":                     "Versand",
		"Shipping address":             "Lieferadresse",
		"Delivery":                     "Lieferung",
		"Payment":                      "Zahlung",
		"gift-wrapped":                 "als Geschenk verpackt",
		"Full name":                    "Vollständiger Name",
		"Street and number":            "Straße und Hausnummer",
		"Postcode":                     "Postleitzahl",
		"City":                         "Ort",
		"Country":                      "Land",
		"France":                       "Frankreich",
		"Germany":                      "Deutschland",
		"United Kingdom":               "Vereinigtes Königreich",
		"United States":                "Vereinigte Staaten",
		"Elsewhere":                    "Anderswo",
		"Delivery method":              "Versandart",
		"Standard, 3 to 5 days":        "Standard, 3 bis 5 Tage",
		"Express, next day":            "Express, am nächsten Tag",
		"Pick up in store":             "Abholung im Laden",
		"Wrap it as a gift":            "Als Geschenk verpacken",
		"Note for the courier":         "Hinweis für den Boten",
		"Payment method":               "Zahlungsart",
		"Card on delivery":             "Karte bei Lieferung",
		"Invoice":                      "Rechnung",
		"Bank transfer":                "Überweisung",
		"E-mail for the receipt":       "E-Mail für die Quittung",
		"This field is required.":      "Dieses Feld ist zwingend erforderlich.",
		"Select a valid choice.":       "Bitte eine gültige Auswahl treffen.",
		"Enter a valid email address.": "Bitte eine gültige E-Mail-Adresse eingeben.",
		"Your answers are kept in the session at every step, whichever button you press.": "Ihre Antworten werden bei jedem Schritt in der Sitzung gespeichert, egal welche Schaltfläche Sie drücken.",
		"Please complete the step “%s”.":                                                  "Bitte vervollständigen Sie den Schritt „%s“.",
		"Thank you! Order %s is on its way.":                                              "Danke! Bestellung %s ist unterwegs.",
		"Unknown form action.":                                                            "Unbekannte Formularaktion.",
		// Preferences.
		"Kept in your session, and applied to every page.": "In Ihrer Sitzung gespeichert und auf jeder Seite angewandt.",
		"Theme":                      "Design",
		"Light":                      "Hell",
		"Dark":                       "Dunkel",
		"Save":                       "Speichern",
		"Preferences saved.":         "Einstellungen gespeichert.",
		"Unknown theme or language.": "Unbekanntes Design oder unbekannte Sprache.",
		// About.
		"About this demo": "Über diese Demo",
		"A shop built on sessionkit, the Django-compatible session framework for Go. This page shows where your session lives and what is in it, exactly as a Django app sharing the store would see it.": "Ein Shop auf Basis von sessionkit, dem Django-kompatiblen Session-Framework für Go. Diese Seite zeigt, wo Ihre Sitzung liegt und was sie enthält, genau so, wie eine Django-App mit demselben Speicher sie sähe.",
		"Storage":                               "Speicher",
		"Config string":                         "Konfiguration",
		"Format":                                "Format",
		"Data directory":                        "Datenverzeichnis",
		"Cookie settings":                       "Cookie-Einstellungen",
		"Session key":                           "Sitzungsschlüssel",
		"request.session, as Django decodes it": "request.session, wie Django es dekodiert",
		"Live counts":                           "Live-Zähler",
		"The engine's calls and the session decisions (conflicts merged, interrupts, idle refreshes), counted as they happen. Open it in two tabs to watch a conflict being merged.": "Die Aufrufe der Engine und die Entscheidungen über Sitzungen (zusammengeführte Konflikte, Abbrüche, Verlängerungen bei Inaktivität), live gezählt. Öffnen Sie die Seite in zwei Tabs, um zuzusehen, wie ein Konflikt zusammengeführt wird.",
		"As stored":                       "Wie gespeichert",
		"the cookie's value":              "der Wert des Cookies",
		"session_data as stored":          "session_data wie gespeichert",
		"You have no stored session yet.": "Sie haben noch keine gespeicherte Sitzung.",
		"Django's signing format: base64 of the JSON (zlib-compressed when it starts with a dot), a timestamp and an HMAC-SHA256 signature, separated by colons.": "Djangos Signaturformat: das JSON in Base64 (mit zlib komprimiert, wenn es mit einem Punkt beginnt), ein Zeitstempel und eine HMAC-SHA256-Signatur, durch Doppelpunkte getrennt.",
		// Devices.
		"Devices":      "Geräte",
		"Your devices": "Ihre Geräte",
		"Where you are logged in: each login is a session of its own. End one you do not recognise, or all but this one.": "Wo Sie angemeldet sind: Jede Anmeldung ist eine eigene Sitzung. Beenden Sie eine, die Sie nicht kennen, oder alle außer dieser.",
		"This session engine keeps no index of users' sessions, so it cannot list them.":                                  "Diese Session-Engine führt keinen Index der Sitzungen eines Benutzers und kann sie daher nicht auflisten.",
		"Browser":                         "Browser",
		"Address":                         "Adresse",
		"Logged in":                       "Angemeldet",
		"Last seen":                       "Zuletzt aktiv",
		"This device":                     "Dieses Gerät",
		"End":                             "Beenden",
		"Log out my other devices":        "Meine anderen Geräte abmelden",
		"Unknown browser":                 "Unbekannter Browser",
		"unknown":                         "unbekannt",
		"That session had already ended.": "Diese Sitzung war bereits beendet.",
		"The session was ended: that device is logged out.": "Die Sitzung wurde beendet: Das Gerät ist abgemeldet.",
		"Logged out %d other device.":                       "%d anderes Gerät abgemeldet.",
		"Logged out %d other devices.":                      "%d andere Geräte abgemeldet.",
		// Errors.
		"Forbidden": "Verboten",
		"CSRF verification failed. Request aborted.": "CSRF-Verifizierung fehlgeschlagen. Anfrage abgebrochen.",
		"Page not found":                    "Seite nicht gefunden",
		"There is nothing at this address.": "Unter dieser Adresse gibt es nichts.",
		"Bad request":                       "Fehlerhafte Anfrage",
		"Back to the shop":                  "Zurück zum Shop",
	},
}
