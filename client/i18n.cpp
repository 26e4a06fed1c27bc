// The message catalog: English and French for every string of the field client.
#include "client/i18n.hpp"

#include <atomic>
#include <unordered_map>

namespace outpost::client {

namespace {

std::atomic<Lang> g_lang{Lang::En};

// Keys are grouped by screen. French is written for francophone mission staff; keep it short
// enough for the 1366x768 layout (the GUI tests capture every screen in French).
const std::vector<CatalogEntry> kCatalog = {
    // application
    {"app.title", "Outpost", "Outpost"},
    // French puts a (narrow) space before a colon.
    {"punct.colon", ": ", " : "},
    {"status.waiting", "waiting to sync", "en attente d'envoi"},
    {"status.link", "Link to HQ", "Liaison avec le QG"},
    {"app.unit", "Unit", "Unité"},
    {"app.user", "User", "Utilisateur"},
    {"nav.home", "Home", "Accueil"},
    {"nav.records", "Reports", "Rapports"},
    {"nav.gaps", "Training gaps", "Lacunes de formation"},
    {"nav.sync", "Sync", "Synchronisation"},
    {"nav.settings", "Settings", "Paramètres"},
    {"nav.lock", "Lock", "Verrouiller"},
    {"nav.back", "Back (Esc)", "Retour (Échap)"},
    // unlock
    {"unlock.title", "Unlock Outpost", "Déverrouiller Outpost"},
    {"unlock.store", "Store", "Base"},
    {"unlock.passphrase", "Passphrase", "Phrase secrète"},
    {"unlock.button", "Unlock (Enter)", "Déverrouiller (Entrée)"},
    {"unlock.wrong", "Wrong passphrase. The store stays locked.",
     "Phrase secrète incorrecte. La base reste verrouillée."},
    {"unlock.working", "Unlocking...", "Déverrouillage..."},
    {"unlock.hint", "The passphrase protects every report on this laptop.",
     "La phrase secrète protège tous les rapports de cet ordinateur."},
    {"unlock.nostore", "No store in this folder. Create one with: outpostctl init",
     "Aucune base dans ce dossier. Créez-la avec : outpostctl init"},
    // home
    {"home.readiness", "Readiness at a glance", "Disponibilité en bref"},
    {"home.no_readiness", "No readiness report finalized yet.", "Aucun rapport de disponibilité finalisé."},
    {"home.period_end", "Period ending", "Période se terminant le"},
    {"home.women", "Women present", "Femmes présentes"},
    {"home.target", "target", "cible"},
    {"home.avg_rating", "Average domain rating", "Note moyenne des domaines"},
    {"home.coe", "Equipment serviceable", "Matériel en état de marche"},
    {"home.below_threshold", "lines below threshold", "lignes sous le seuil"},
    {"home.below_threshold_one", "line below threshold", "ligne sous le seuil"},
    {"home.drafts", "Drafts", "Brouillons"},
    {"home.waiting", "Waiting to sync", "En attente d'envoi"},
    {"home.problems", "With problems", "Avec problèmes"},
    {"home.link", "Link to HQ", "Liaison avec le QG"},
    {"home.link_none", "Sync not set up yet", "Synchronisation non configurée"},
    {"home.last_sync", "Last successful sync", "Dernière synchronisation réussie"},
    {"home.never", "never", "jamais"},
    {"home.new", "New report", "Nouveau rapport"},
    {"home.gaps_open", "open training gaps", "lacunes de formation ouvertes"},
    {"home.gaps_open_one", "open training gap", "lacune de formation ouverte"},
    // lists
    {"list.title", "Reports", "Rapports"},
    {"list.all_forms", "All forms", "Tous les formulaires"},
    {"list.all_status", "Any status", "Tout statut"},
    {"list.all_units", "All units", "Toutes les unités"},
    {"list.search", "Search (Ctrl+F)", "Rechercher (Ctrl+F)"},
    {"list.count", "reports", "rapports"},
    {"list.col_form", "Form", "Formulaire"},
    {"list.col_status", "Status", "Statut"},
    {"list.col_sync", "Sync", "Envoi"},
    {"list.col_updated", "Updated (UTC)", "Modifié (UTC)"},
    {"list.col_summary", "Summary", "Résumé"},
    {"list.col_unit", "Unit", "Unité"},
    {"list.open", "Open", "Ouvrir"},
    {"list.resume", "Resume", "Reprendre"},
    {"list.empty", "No report matches.", "Aucun rapport ne correspond."},
    {"list.sort", "Sort", "Trier"},
    {"list.sort_newest", "Newest first", "Plus récents"},
    {"list.sort_oldest", "Oldest first", "Plus anciens"},
    {"list.status_draft", "Drafts", "Brouillons"},
    {"list.status_final", "Final", "Finalisés"},
    {"list.keys", "Up/Down: select · Enter: open", "Haut/Bas : choisir · Entrée : ouvrir"},
    {"status.draft", "draft", "brouillon"},
    {"status.final", "final", "final"},
    {"sync.draft", "not sent (draft)", "non envoyé (brouillon)"},
    {"sync.queued", "waiting to sync", "en attente"},
    {"sync.quarantined", "rejected by HQ", "rejeté par le QG"},
    {"sync.sent", "received by HQ", "reçu par le QG"},
    // form
    {"form.required", "required", "obligatoire"},
    {"form.save", "Save draft (Ctrl+S)", "Enregistrer (Ctrl+S)"},
    {"form.finalize", "Finalize (Ctrl+Enter)", "Finaliser (Ctrl+Entrée)"},
    {"form.saved", "Saved", "Enregistré"},
    {"form.saving", "Saving...", "Enregistrement..."},
    {"form.unsaved", "Not saved yet", "Pas encore enregistré"},
    {"form.not_saved", "Not saved: fix the problems marked in red",
     "Non enregistré : corrigez les problèmes en rouge"},
    {"form.save_failed", "Saving failed", "Échec de l'enregistrement"},
    {"form.add_row", "Add row", "Ajouter une ligne"},
    {"form.remove_row", "Remove", "Supprimer"},
    {"form.row", "Row", "Ligne"},
    {"form.none", "(none)", "(aucun)"},
    {"form.yes", "Yes", "Oui"},
    {"form.no", "No", "Non"},
    {"form.computed", "computed", "calculé"},
    {"form.problems", "Problems to fix before finalizing", "Problèmes à corriger avant de finaliser"},
    {"form.no_problems", "Ready to finalize.", "Prêt à être finalisé."},
    {"form.confirm_title", "Finalize this report?", "Finaliser ce rapport ?"},
    {"form.confirm_text",
     "A final report cannot be changed; corrections become a new revision. It will be sent to HQ.",
     "Un rapport final ne peut plus être modifié ; une correction crée une nouvelle révision. Il sera envoyé "
     "au QG."},
    {"form.confirm_yes", "Finalize (Enter)", "Finaliser (Entrée)"},
    {"form.confirm_no", "Cancel (Esc)", "Annuler (Échap)"},
    {"form.finalized", "Finalized and queued for HQ.", "Finalisé et mis en file pour le QG."},
    {"form.sensitive", "Confidential section", "Section confidentielle"},
    {"form.lat", "Latitude", "Latitude"},
    {"form.lon", "Longitude", "Longitude"},
    {"form.mgrs", "or MGRS", "ou MGRS"},
    {"form.date_hint", "YYYY-MM-DD", "AAAA-MM-JJ"},
    {"form.datetime_hint", "YYYY-MM-DDTHH:MM+01:00", "AAAA-MM-JJTHH:MM+01:00"},
    {"form.warning", "Warning", "Attention"},
    {"form.leave_unsaved",
     "Your last entries are not saved: fix the fields in red, or press Esc again to leave without them.",
     "Vos dernières saisies ne sont pas enregistrées : corrigez les champs en rouge, ou appuyez de nouveau "
     "sur Échap pour partir sans elles."},
    {"form.choose", "Type to choose...", "Tapez pour choisir..."},
    {"form.no_match", "No choice matches this text", "Aucun choix ne correspond à ce texte"},
    {"form.no_match_block",
     "Some choice boxes hold text that matches no choice: choose a value or clear them.",
     "Des champs de choix contiennent un texte sans correspondance : choisissez une valeur ou videz-les."},
    // record view
    {"record.title", "Report", "Rapport"},
    {"record.revisions", "Revisions", "Révisions"},
    {"record.revision", "Revision", "Révision"},
    {"record.amend", "Amend (new revision)", "Modifier (nouvelle révision)"},
    {"record.edit", "Edit draft", "Modifier le brouillon"},
    {"record.author", "Author", "Auteur"},
    {"record.created", "Created", "Créé"},
    {"record.finalized", "Finalized", "Finalisé"},
    {"record.none", "No report is open.", "Aucun rapport ouvert."},
    {"record.rows", "rows", "lignes"},
    {"record.shown", "shown above", "affichée ci-dessus"},
    {"record.unknown_form", "This form's definition is missing: the stored values are shown as they are.",
     "La définition de ce formulaire est absente : les valeurs sont affichées telles quelles."},
    // gaps
    {"gaps.title", "Training gaps: unit x course", "Lacunes de formation : unité x cours"},
    {"gaps.met", "met", "satisfait"},
    {"gaps.due", "due", "à faire"},
    {"gaps.overdue", "overdue", "en retard"},
    {"gaps.missing", "missing", "manquant"},
    {"gaps.sessions", "sessions", "sessions"},
    {"gaps.trained", "trained", "formés"},
    {"gaps.last", "last", "dernière"},
    {"gaps.due_by", "due by", "échéance"},
    {"gaps.not_required", "not required", "non requis"},
    {"gaps.coverage", "of strength", "de l'effectif"},
    {"gaps.coverage_label", "Coverage", "Couverture"},
    {"gaps.required", "Required", "Exigé"},
    {"gaps.passed", "passed", "reçus"},
    {"gaps.none", "No training requirement applies to the units in the reference data.",
     "Aucune exigence de formation ne s'applique aux unités des données de référence."},
    {"gaps.pick", "Click a square (or Tab, then the arrow keys) to see the figures behind it.",
     "Cliquez sur un carré (ou Tab, puis les flèches) pour voir ses chiffres."},
    // sync
    {"syncp.title", "Sync with HQ", "Synchronisation avec le QG"},
    {"syncp.queue", "Waiting to be sent, in sending order", "En attente d'envoi, dans l'ordre d'envoi"},
    {"syncp.now", "Sync now", "Synchroniser"},
    {"syncp.not_available", "Sync to HQ is not available in this version: reports stay safely queued here.",
     "La synchronisation n'est pas disponible dans cette version : les rapports restent en file ici."},
    {"syncp.empty", "Nothing waiting: every final report has left.", "Rien en attente."},
    {"syncp.records", "records", "rapports"},
    {"syncp.bytes", "bytes", "octets"},
    {"syncp.errors", "Last errors", "Dernières erreurs"},
    {"syncp.no_errors", "No errors.", "Aucune erreur."},
    {"syncp.of", "of", "sur"},
    {"syncp.priority", "Priority", "Priorité"},
    {"syncp.enqueued", "Queued (UTC)", "En file (UTC)"},
    {"syncp.attempts", "Attempts", "Essais"},
    {"syncp.attempts_lower", "attempts", "essais"},
    {"syncp.state", "State", "État"},
    {"syncp.last_error", "Last error", "Dernière erreur"},
    {"syncp.more_errors", "more with errors", "autres en erreur"},
    {"unit.kb", "kB", "ko"},
    {"unit.mb", "MB", "Mo"},
    // settings
    {"settings.title", "Settings", "Paramètres"},
    {"settings.hq", "HQ address", "Adresse du QG"},
    {"settings.font", "Text size", "Taille du texte"},
    {"settings.large", "Large text (rugged screens, gloves)", "Grand texte (écrans renforcés, gants)"},
    {"settings.theme", "Theme", "Thème"},
    {"settings.day", "Day", "Jour"},
    {"settings.night", "Night (low glare)", "Nuit (faible éclat)"},
    {"settings.language", "Language", "Langue"},
    {"settings.saved", "Settings saved.", "Paramètres enregistrés."},
    {"settings.save", "Save (Ctrl+S)", "Enregistrer (Ctrl+S)"},
    {"settings.unsaved", "Changes not saved yet", "Modifications non enregistrées"},
    {"settings.hq_invalid", "Must start with https:// (or stay empty)",
     "Doit commencer par https:// (ou rester vide)"},
    {"settings.hq_hint", "Leave empty until sync is set up.",
     "Laisser vide tant que la synchronisation n'est pas configurée."},
    {"settings.english", "English", "English"},
    {"settings.french", "Français", "Français"},
    // validation rules (issueText)
    {"rule.required", "a value is required", "une valeur est obligatoire"},
    {"rule.type", "this value has the wrong form", "cette valeur n'a pas la bonne forme"},
    {"rule.min", "must be at least", "doit être au moins"},
    {"rule.max", "must be at most", "doit être au plus"},
    {"rule.min_length", "too short; characters needed:", "trop court ; caractères requis :"},
    {"rule.max_length", "too long; characters allowed:", "trop long ; caractères permis :"},
    {"rule.pattern", "does not have the expected form", "n'a pas la forme attendue"},
    {"rule.choice", "not one of the choices", "ne fait pas partie des choix"},
    {"rule.reference", "unknown reference", "référence inconnue"},
    {"rule.min_rows", "rows needed:", "lignes requises :"},
    {"rule.max_rows", "too many rows; allowed:", "trop de lignes ; permis :"},
    {"rule.min_selected", "choices needed:", "choix requis :"},
    {"rule.max_selected", "too many choices; allowed:", "trop de choix ; permis :"},
    {"rule.constraint", "breaks a rule of the form", "ne respecte pas une règle du formulaire"},
    {"rule.unknown_field", "unknown field", "champ inconnu"},
    {"rule.computed", "computed by Outpost", "calculé par Outpost"},
    {"rule.utf8", "invalid text", "texte invalide"},
    {"rule.expression", "a rule of the form could not be evaluated",
     "une règle du formulaire n'a pu être évaluée"},
    {"rule.json", "not a valid record", "enregistrement invalide"},
    {"rule.identifying", "looks like a name or a phone number: never record a victim's identity",
     "ressemble à un nom ou un numéro : n'enregistrez jamais l'identité d'une victime"},
};

}  // namespace

const char* langCode(Lang l) {
    return l == Lang::Fr ? "fr" : "en";
}
void setLanguage(Lang l) {
    g_lang.store(l);
}
Lang language() {
    return g_lang.load();
}

const std::vector<CatalogEntry>& catalog() {
    return kCatalog;
}

const char* tr(std::string_view key) {
    static const std::unordered_map<std::string_view, const CatalogEntry*> index = [] {
        std::unordered_map<std::string_view, const CatalogEntry*> m;
        for (const auto& e : kCatalog) m.emplace(e.key, &e);
        return m;
    }();
    auto it = index.find(key);
    if (it == index.end()) return key.data();
    return language() == Lang::Fr ? it->second->fr : it->second->en;
}

const char* trCount(long long n, std::string_view singularKey, std::string_view pluralKey) {
    bool singular = language() == Lang::Fr ? (n == 0 || n == 1 || n == -1) : (n == 1 || n == -1);
    return tr(singular ? singularKey : pluralKey);
}

const std::string& tr(const core::LocalText& t) {
    return t.in(langCode(language()));
}

std::string issueText(const core::Issue& issue) {
    const std::string& custom = tr(issue.custom);
    if (!custom.empty()) return custom;
    if (language() == Lang::En) return issue.message;
    const std::string key = "rule." + issue.rule;
    std::string s = tr(key);
    if (!issue.arg.empty()) s += " " + issue.arg;
    return s;
}

}  // namespace outpost::client
