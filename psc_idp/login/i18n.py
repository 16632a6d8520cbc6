"""The login pages' words in French (PSC's language) and English, picked from ``ui_locales``."""

from __future__ import annotations

MESSAGES: dict[str, dict[str, str]] = {
    "fr": {
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
        "expired": "Cette demande de connexion a expiré. Retournez sur le service pour"
                   " recommencer.",
        "other_browser": "Cette demande de connexion a été ouverte dans un autre navigateur.",
        "csrf": "Le formulaire a expiré, veuillez réessayer.",
        "back": "Retour aux moyens d'identification",
    },
    "en": {
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
        "expired": "This login request has expired. Go back to the service to start again.",
        "other_browser": "This login request was opened in another browser.",
        "csrf": "The form expired, please try again.",
        "back": "Back to the means of identification",
    },
}


def pick_locale(ui_locales: str) -> str:
    for tag in (ui_locales or "").split():
        lang = tag.split("-")[0].lower()
        if lang in MESSAGES:
            return lang
    return "fr"


def translator(locale: str):
    table = MESSAGES.get(locale, MESSAGES["fr"])

    def t(key: str, **kwargs: str) -> str:
        text = table.get(key) or MESSAGES["fr"].get(key, key)
        return text.format(**kwargs) if kwargs else text

    return t
