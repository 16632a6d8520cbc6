"""The login pages' words in French (PSC's language) and English, picked from ``ui_locales``."""

from __future__ import annotations

MESSAGES: dict[str, dict[str, str]] = {
    "fr": {
        "sessions_title": "Vos sessions Pro Santé Connect",
        "sessions_none": "Aucune session ouverte dans ce navigateur.",
        "sessions_started": "Ouverte le {at}",
        "sessions_this_browser": "ce navigateur",
        "sessions_no_service": "aucun service",
        "sessions_end": "Terminer cette session",
        "sessions_signed_in_as": "Connecté : {name}, identifiant national {national_id}",
        "sessions_paris_time": "heure de Paris",
        "error_title": "Nous sommes désolés…",
        "error_text_invalid_client": "Ce service n'est pas connu de Pro Santé Connect.",
        "error_text_invalid_request": "La demande envoyée par le service est incorrecte.",
        "error_text_not_found": "Cette page n'existe pas.",
        "error_text_server_error": "Une erreur inattendue s'est produite.",
        "error_text_access_denied": "L'accès a été refusé.",
        "error_text_unsupported_response_type": "La demande envoyée par le service est"
                                                " incorrecte.",
        "error_protocol_detail": "Détail technique : {error} — {description}",
        "error_back": "Retournez sur le service qui vous a envoyé ici et recommencez.",
        "error_for_developers": "Pour le développeur du service",
        "redirect_uri_received": "redirect_uri reçue",
        "redirect_uri_none": "(aucune)",
        "redirect_uri_registered": "redirect_uri enregistrées pour le client {client}",
        "redirect_uri_hint_exact": "La redirect_uri doit être identique, caractère pour"
                                   " caractère, à l'une de celles enregistrées (psc-idp client"
                                   " update ID --redirect-uri URI).",
        "redirect_uri_hint_localhost": "localhost et 127.0.0.1 sont des hôtes différents :"
                                       " envoyez exactement l'adresse enregistrée, ou"
                                       " enregistrez aussi celle-ci.",
        "redirect_uri_hint_slash": "Seule la barre oblique finale diffère : la comparaison"
                                   " est exacte.",
        "redirect_uri_hint_scheme": "Seul le schéma diffère (http ou https) : la comparaison"
                                    " est exacte.",
        "redirect_uri_hint_port": "Seul le port diffère : la comparaison est exacte.",
        "redirect_uri_hint_missing": "Ce client a plusieurs redirect_uri enregistrées : la"
                                     " requête doit en nommer une.",
        "redirect_uri_hint_repeated": "La requête contient plusieurs redirect_uri : une seule"
                                      " est permise.",
        "consent_title": "Autorisation",
        "consent_question": "{client} demande l'accès à vos informations :",
        "consent_approve": "Autoriser",
        "consent_refuse": "Refuser",
        "logout_title": "Déconnexion",
        "logout_question": "Voulez-vous vous déconnecter de Pro Santé Connect ?",
        "logout_asked_by": "Demande du service {client}. Vous serez déconnecté de tous les"
                           " services ouverts avec Pro Santé Connect.",
        "logout_button": "Se déconnecter",
        "logged_out": "Vous êtes déconnecté de Pro Santé Connect.",
        "logging_out_services": "Déconnexion des services ({count})…",
        "logout_continue": "Continuer",
        "close_window": "Vous pouvez fermer cette fenêtre.",
        "title": "Pro Santé Connect",
        "subtitle": "Connexion à {client}",
        "choose_means": "Choisissez votre moyen d'identification",
        "emulation_banner": "Environnement de test psc-idp ({mode}) : personas de test activés."
                            " Aucune donnée réelle.",
        "persona_intro": "Sélectionnez un professionnel de test pour vous connecter.",
        "national_id": "Identifiant national (8 + RPPS)",
        "sign_in": "Se connecter",
        "cancel": "Annuler",
        "blocked": "moyens bloqués",
        "no_situation": "sans situation d'exercice active",
        "unknown_professional": "Identifiant inconnu ou mal formé.",
        "means_blocked": "Les moyens d'identification de ce professionnel sont bloqués.",
        "professional_ended": "Ce professionnel ne figure plus dans l'annuaire santé :"
                              " connexion refusée.",
        "expired": "Cette demande de connexion a expiré. Retournez sur le service pour"
                   " recommencer.",
        "other_browser": "Cette demande de connexion a été ouverte dans un autre navigateur.",
        "csrf": "Le formulaire a expiré, veuillez réessayer.",
        "back": "Retour aux moyens d'identification",
        "other_means": "Autres moyens d'identification",
        "footer": "psc-idp · émulateur OpenID Connect de Pro Santé Connect",
        "national_id_or_rpps": "Identifiant national (8 + RPPS) ou numéro RPPS",
        "ecps_intro": "Saisissez votre identifiant : une demande de connexion sera envoyée à"
                      " votre application e-CPS.",
        "ecps_send": "Envoyer la demande",
        "ecps_wait_title": "Validez la connexion sur votre téléphone",
        "ecps_wait_intro": "Une demande de connexion à « {service} » a été envoyée à votre"
                           " application e-CPS.",
        "ecps_binding": "Vérifiez que votre téléphone affiche ce code, puis validez avec votre"
                        " code PIN :",
        "ecps_expires": "Cette demande expire dans {seconds} secondes.",
        "ecps_waiting_status": "En attente de votre validation…",
        "ecps_noscript": "Après avoir répondu sur votre téléphone, cliquez sur Continuer.",
        "continue": "Continuer",
        "ecps_resend": "Renvoyer la demande ou changer d'identifiant",
        "ecps_not_activated": "Aucune e-CPS n'est activée pour cet identifiant. Activez"
                              " l'application e-CPS, ou choisissez un autre moyen"
                              " d'identification.",
        "ecps_waiting": "Votre e-CPS est en cours d'activation : elle sera utilisable à partir"
                        " du {when}. Choisissez un autre moyen d'identification d'ici là.",
        "ecps_blocked": "Votre e-CPS est bloquée après trop de codes PIN erronés. Réactivez-la"
                        " dans l'application e-CPS, ou choisissez un autre moyen"
                        " d'identification.",
        "ecps_expired": "Votre e-CPS a expiré ou a été révoquée. Réactivez-la dans"
                        " l'application e-CPS, ou choisissez un autre moyen d'identification.",
        "ecps_too_many": "Trop de demandes e-CPS sont déjà en attente sur votre téléphone :"
                         " répondez-y ou attendez qu'elles expirent.",
        "ecps_no_request": "Aucune demande e-CPS n'est en cours pour cette connexion : envoyez-en"
                           " une nouvelle.",
        "ecps_request_expired": "La demande envoyée à votre téléphone a expiré sans réponse."
                                " Réessayez, ou choisissez un autre moyen d'identification.",
        "ecps_retry": "Réessayer",
        "otp_intro": "Votre téléphone ne reçoit pas les notifications ? Ouvrez l'application"
                     " e-CPS et saisissez le code à 6 chiffres qu'elle affiche.",
        "otp_code": "Code à usage unique (6 chiffres)",
        "otp_malformed": "Le code comporte 6 chiffres.",
        "otp_wrong": "Code erroné ou expiré.",
        "otp_replayed": "Ce code a déjà été utilisé : attendez le code suivant dans"
                        " l'application.",
        "otp_locked": "Trop de codes erronés : cette connexion n'accepte plus de code."
                      " Utilisez la notification sur votre téléphone ou un autre moyen.",
        "otp_throttled": "Trop de codes erronés ont été saisis pour cet identifiant : la"
                         " connexion par code est suspendue quelques minutes. Utilisez la"
                         " notification sur votre téléphone ou un autre moyen.",
        "otp_unavailable": "Le code de votre e-CPS ne peut pas être vérifié : réactivez-la dans"
                           " l'application.",
        "card_intro": "Insérez votre carte CPS dans le lecteur, puis présentez-la : le code PIN"
                      " de la carte vous sera demandé par le lecteur.",
        "card_open_reader": "Ouvrir le lecteur de carte",
        "card_step_hint": "Adresse où présenter la carte (lecteur, logiciel CPS) :",
        "card_refused_title": "Carte refusée",
        "card_error_title": "Connexion par carte impossible",
        "card_refused_before": "Votre carte a été refusée : {message}",
        "card_back_to_card": "Retour à la connexion par carte (annuler la connexion)",
        "card_choose_other": "Choisir un autre moyen d'identification",
        "card_not_on_listener": "Cette étape n'est accessible qu'en présentant une carte CPS"
                                " (connexion avec certificat client) : utilisez le lien de la"
                                " page de connexion.",
        "card_unknown_login": "Cette demande de connexion est inconnue. Retournez sur le service"
                              " pour recommencer.",
        "card_not_offered": "La connexion par carte CPS n'est pas proposée pour cette"
                            " demande.",
        "card_ticket_used": "Cette étape de connexion par carte a déjà été utilisée :"
                            " présentez de nouveau votre carte.",
        "card_ticket_wrong": "Ce lien de connexion par carte n'est pas valable : présentez de"
                             " nouveau votre carte.",
        "card_ticket_expired": "Le délai entre la lecture de la carte et le retour sur cette"
                               " page est dépassé : présentez de nouveau votre carte.",
        "card_unknown_holder": "Le titulaire de cette carte est inconnu de l'annuaire.",
        "ciba_card_title": "Demandes de connexion à valider avec votre carte",
        "ciba_card_none": "Aucune demande n'attend votre carte.",
        "ciba_card_request": "{service} demande à se connecter en votre nom. Vérifiez que le"
                             " service affiche le code {binding}.",
        "ciba_card_expires": "Expire dans {seconds} secondes.",
        "ciba_card_approve": "Valider avec ma carte",
        "ciba_card_deny": "Refuser",
        "ciba_card_approved": "Demande validée : le service reçoit l'accès.",
        "ciba_card_denied": "Demande refusée : le service est prévenu.",
        "ciba_card_unknown": "Cette demande n'existe pas, a déjà reçu une réponse ou a expiré.",
    },
    "en": {
        "sessions_title": "Your Pro Santé Connect sessions",
        "sessions_none": "No session open in this browser.",
        "sessions_started": "Opened {at}",
        "sessions_this_browser": "this browser",
        "sessions_no_service": "no service",
        "sessions_end": "End this session",
        "sessions_signed_in_as": "Signed in: {name}, national identifier {national_id}",
        "sessions_paris_time": "Paris time",
        "error_title": "We are sorry…",
        "error_text_invalid_client": "This service is not known to Pro Santé Connect.",
        "error_text_invalid_request": "The request sent by the service is incorrect.",
        "error_text_not_found": "This page does not exist.",
        "error_text_server_error": "An unexpected error occurred.",
        "error_text_access_denied": "Access was denied.",
        "error_text_unsupported_response_type": "The request sent by the service is"
                                                " incorrect.",
        "error_protocol_detail": "Technical detail: {error} — {description}",
        "error_back": "Go back to the service that sent you here and try again.",
        "error_for_developers": "For the service's developer",
        "redirect_uri_received": "redirect_uri received",
        "redirect_uri_none": "(none)",
        "redirect_uri_registered": "redirect_uri registered for client {client}",
        "redirect_uri_hint_exact": "The redirect_uri must be identical, character for"
                                   " character, to one of those registered (psc-idp client"
                                   " update ID --redirect-uri URI).",
        "redirect_uri_hint_localhost": "localhost and 127.0.0.1 are different hosts: send"
                                       " exactly the registered address, or register this"
                                       " one too.",
        "redirect_uri_hint_slash": "Only the trailing slash differs: the comparison is exact.",
        "redirect_uri_hint_scheme": "Only the scheme differs (http or https): the comparison"
                                    " is exact.",
        "redirect_uri_hint_port": "Only the port differs: the comparison is exact.",
        "redirect_uri_hint_missing": "This client has several registered redirect_uri values:"
                                     " the request must name one.",
        "redirect_uri_hint_repeated": "The request holds several redirect_uri values: one"
                                      " only is allowed.",
        "consent_title": "Authorisation",
        "consent_question": "{client} asks for access to your information:",
        "consent_approve": "Allow",
        "consent_refuse": "Refuse",
        "logout_title": "Log out",
        "logout_question": "Do you want to log out of Pro Santé Connect?",
        "logout_asked_by": "Asked by {client}. You will be logged out of every service you"
                           " opened with Pro Santé Connect.",
        "logout_button": "Log out",
        "logged_out": "You are logged out of Pro Santé Connect.",
        "logging_out_services": "Logging out of the services ({count})…",
        "logout_continue": "Continue",
        "close_window": "You may close this window.",
        "title": "Pro Santé Connect",
        "subtitle": "Sign in to {client}",
        "choose_means": "Choose how to identify yourself",
        "emulation_banner": "psc-idp test environment ({mode}): test personas enabled."
                            " No real data.",
        "persona_intro": "Pick a test professional to sign in.",
        "national_id": "National identifier (8 + RPPS)",
        "sign_in": "Sign in",
        "cancel": "Cancel",
        "blocked": "means blocked",
        "no_situation": "no active practice",
        "unknown_professional": "Unknown or malformed identifier.",
        "means_blocked": "This professional's means of identification are blocked.",
        "professional_ended": "This professional is no longer in the health directory:"
                              " sign-in refused.",
        "expired": "This login request has expired. Go back to the service to start again.",
        "other_browser": "This login request was opened in another browser.",
        "csrf": "The form expired, please try again.",
        "back": "Back to the means of identification",
        "other_means": "Other means of identification",
        "footer": "psc-idp · OpenID Connect emulator of Pro Santé Connect",
        "national_id_or_rpps": "National identifier (8 + RPPS) or RPPS number",
        "ecps_intro": "Enter your identifier: a login request will be sent to your e-CPS app.",
        "ecps_send": "Send the request",
        "ecps_wait_title": "Approve the login on your phone",
        "ecps_wait_intro": "A request to sign in to “{service}” was sent to your e-CPS app.",
        "ecps_binding": "Check that your phone shows this code, then approve with your PIN:",
        "ecps_expires": "This request expires in {seconds} seconds.",
        "ecps_waiting_status": "Waiting for your approval…",
        "ecps_noscript": "Once you have answered on your phone, click Continue.",
        "continue": "Continue",
        "ecps_resend": "Send again or use another identifier",
        "ecps_not_activated": "No e-CPS is activated for this identifier. Activate the e-CPS"
                              " app, or choose another means of identification.",
        "ecps_waiting": "Your e-CPS is being activated: it can be used from {when}. Choose"
                        " another means of identification until then.",
        "ecps_blocked": "Your e-CPS is blocked after too many wrong PINs. Activate it again in"
                        " the e-CPS app, or choose another means of identification.",
        "ecps_expired": "Your e-CPS has expired or was revoked. Activate it again in the e-CPS"
                        " app, or choose another means of identification.",
        "ecps_too_many": "Too many e-CPS requests are already waiting on your phone: answer"
                         " them or wait for them to expire.",
        "ecps_no_request": "No e-CPS request is pending for this login: send a new one.",
        "ecps_request_expired": "The request sent to your phone expired without an answer."
                                " Try again, or choose another means of identification.",
        "ecps_retry": "Try again",
        "otp_intro": "Your phone does not receive notifications? Open the e-CPS app and enter"
                     " the 6-digit code it shows.",
        "otp_code": "One-time code (6 digits)",
        "otp_malformed": "The code has 6 digits.",
        "otp_wrong": "Wrong or expired code.",
        "otp_replayed": "This code was already used: wait for the next code in the app.",
        "otp_locked": "Too many wrong codes: this login accepts no more codes. Use the"
                      " notification on your phone or another means.",
        "otp_throttled": "Too many wrong codes were entered for this identifier: sign-in by"
                         " code is suspended for a few minutes. Use the notification on your"
                         " phone or another means.",
        "otp_unavailable": "Your e-CPS code cannot be checked: activate it again in the app.",
        "card_intro": "Insert your CPS card in the reader, then present it: the reader asks"
                      " for the card's PIN.",
        "card_open_reader": "Open the card reader",
        "card_step_hint": "Where to present the card (reader, CPS software):",
        "card_refused_title": "Card refused",
        "card_error_title": "Card login impossible",
        "card_refused_before": "Your card was refused: {message}",
        "card_back_to_card": "Back to the card login (cancel the login)",
        "card_choose_other": "Choose another means of identification",
        "card_not_on_listener": "This step is only reachable by presenting a CPS card (TLS"
                                " client certificate): use the link of the login page.",
        "card_unknown_login": "This login request is unknown. Go back to the service to start"
                              " again.",
        "card_not_offered": "Card login is not offered for this request.",
        "card_ticket_used": "This card login step was already used: present your card again.",
        "card_ticket_wrong": "This card login link is not valid: present your card again.",
        "card_ticket_expired": "Too long between reading the card and coming back here:"
                               " present your card again.",
        "card_unknown_holder": "The holder of this card is not in the directory.",
        "ciba_card_title": "Login requests to approve with your card",
        "ciba_card_none": "No request is waiting for your card.",
        "ciba_card_request": "{service} asks to sign in on your behalf. Check that the service"
                             " shows the code {binding}.",
        "ciba_card_expires": "Expires in {seconds} seconds.",
        "ciba_card_approve": "Approve with my card",
        "ciba_card_deny": "Refuse",
        "ciba_card_approved": "Request approved: the service gets access.",
        "ciba_card_denied": "Request refused: the service is told.",
        "ciba_card_unknown": "This request does not exist, was already answered or has"
                             " expired.",
    },
}


def pick_locale(ui_locales: str) -> str:
    for tag in (ui_locales or "").split():
        lang = tag.split("-")[0].lower()
        if lang in MESSAGES:
            return lang
    return "fr"


def has_text(key: str) -> bool:
    return key in MESSAGES["fr"]


def translator(locale: str):
    table = MESSAGES.get(locale, MESSAGES["fr"])

    def t(key: str, **kwargs: str) -> str:
        text = table.get(key) or MESSAGES["fr"].get(key, key)
        return text.format(**kwargs) if kwargs else text

    return t
