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
    // a screen that failed while it was drawn (the window goes on; the other screens still work)
    {"shell.failed_title", "This screen could not be shown", "Cet écran n'a pas pu être affiché"},
    {"shell.failed_text",
     "An unexpected error stopped it. Your reports are safe: nothing was lost. Try again, or go to another "
     "screen.",
     "Une erreur inattendue l'a interrompu. Vos rapports sont en sécurité : rien n'a été perdu. Réessayez, "
     "ou "
     "passez à un autre écran."},
    {"shell.failed_detail", "Detail", "Détail"},
    {"shell.retry", "Try again", "Réessayer"},
    // unlock
    {"unlock.title", "Unlock Outpost", "Déverrouiller Outpost"},
    {"unlock.account", "Account", "Compte"},
    {"unlock.account_hint", "Your account name (empty: any)",
     "Votre nom de compte (vide : n'importe lequel)"},
    {"unlock.accounts", "Accounts on this laptop:", "Comptes sur cet ordinateur :"},
    {"unlock.wait", "Next try in %d s (the wait doubles after each wrong passphrase).",
     "Prochain essai dans %d s (l'attente double après chaque phrase secrète erronée)."},
    {"unlock.idle_locked", "Locked after a time without use.", "Verrouillé après une période d'inactivité."},
    {"role.commander", "Commander", "Commandant"},
    {"role.training-officer", "Training officer", "Officier de formation"},
    {"role.conduct-focal-point", "Conduct focal point", "Point focal conduite et discipline"},
    {"role.clerk", "Clerk", "Secrétaire"},
    {"settings.idle", "Lock after (minutes idle)", "Verrouiller après (minutes d'inactivité)"},
    {"accounts.title", "Accounts", "Comptes"},
    {"accounts.name", "Name", "Nom"},
    {"accounts.role", "Role", "Rôle"},
    {"accounts.passphrase", "Passphrase (8+ characters)", "Phrase secrète (8 caractères ou plus)"},
    {"accounts.add", "Add account", "Ajouter le compte"},
    {"accounts.remove", "Remove", "Supprimer"},
    {"accounts.set_role", "Set role", "Changer le rôle"},
    {"accounts.done", "Done.", "Fait."},
    {"accounts.only_commander", "Only a commander manages accounts.", "Seul un commandant gère les comptes."},
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
    // wipe
    {"wipe.title", "Wipe this laptop", "Effacer cet ordinateur"},
    {"wipe.explain",
     "Destroys the store's keys at once, then every file. Reports not yet received by HQ are lost. "
     "Type the unit id to confirm:",
     "Détruit aussitôt les clés de la base, puis tous les fichiers. Les rapports que le QG n'a pas encore "
     "reçus sont perdus. Saisissez l'identifiant de l'unité pour confirmer :"},
    {"wipe.button", "Wipe now", "Effacer maintenant"},
    {"wipe.locked", "Unlock the store first.", "Déverrouillez d'abord la base."},
    {"wipe.confirm_mismatch", "The unit id typed does not match this store's unit: nothing was wiped.",
     "L'identifiant saisi ne correspond pas à l'unité de cette base : rien n'a été effacé."},
    {"wipe.done", "This laptop's store was wiped: its keys were destroyed and its files erased.",
     "La base de cet ordinateur a été effacée : ses clés ont été détruites et ses fichiers supprimés."},
    {"wipe.revoked",
     "HQ revoked this laptop. Its store was wiped: its keys were destroyed and its files erased.",
     "Le QG a révoqué cet ordinateur. Sa base a été effacée : ses clés ont été détruites et ses fichiers "
     "supprimés."},
    {"wipe.failed", "Wiping the store did not finish:", "L'effacement de la base n'a pas abouti :"},
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
    {"sync.held", "held: waits for HQ's keys", "retenu : attend les clés du QG"},
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
    {"form.sealed_earlier",
     "Sealed for HQ with revision %d and no longer readable here. Leave it empty to keep that one, or fill "
     "it in to send a new version.",
     "Scellée pour le QG avec la révision %d et illisible ici. Laissez-la vide pour garder celle-ci, ou "
     "remplissez-la pour en envoyer une nouvelle version."},
    {"sealed.waiting",
     "Sealed away from this laptop's accounts. It leaves with the next sync once HQ's conduct-and-discipline "
     "keys "
     "have arrived.",
     "Mise hors de portée des comptes de cet ordinateur. Elle partira à la prochaine synchronisation, dès "
     "que les "
     "clés de l'équipe Conduite et discipline du QG seront arrivées."},
    {"sealed.sealed",
     "Sealed for HQ's conduct-and-discipline team (%d key(s)); only they can open it. Waiting to be sent.",
     "Scellée pour l'équipe Conduite et discipline du QG (%d clé(s)) ; elle seule peut l'ouvrir. En attente "
     "d'envoi."},
    {"sealed.purged",
     "With HQ's conduct-and-discipline team, sealed (%d key(s)). HQ confirmed receipt; this laptop keeps no "
     "copy.",
     "Transmise scellée à l'équipe Conduite et discipline du QG (%d clé(s)). Le QG en a accusé réception ; "
     "cet "
     "ordinateur n'en garde aucune copie."},
    {"sealed.from_revision", "Sealed with revision %d.", "Scellée avec la révision %d."},
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
    {"record.hq", "At HQ", "Au QG"},
    {"record.hq_not_yet", "not received yet: waiting to sync", "pas encore reçu : en attente d'envoi"},
    {"record.hq_rejected", "rejected by HQ: the Sync screen gives the reason",
     "rejeté par le QG : l'écran Synchronisation en donne le motif"},
    {"record.hq_receipt", "HQ sequence {1} · received {2}", "numéro au QG {1} · reçu le {2}"},
    {"record.hq_conflict_badge", "conflict at HQ", "conflit au QG"},
    {"record.hq_conflict",
     "HQ already holds different content for this revision; HQ decides which one stands.",
     "Le QG détient déjà un contenu différent pour cette révision ; le QG décide lequel est retenu."},
    {"record.hq_review", "HQ review", "Examen par le QG"},
    {"record.hq_accepted", "accepted", "accepté"},
    {"record.hq_received", "received, not reviewed yet", "reçu, pas encore examiné"},
    {"record.hq_returned", "Returned by HQ with comments", "Renvoyé par le QG avec commentaires"},
    {"record.hq_returned_badge", "returned", "renvoyé"},
    {"record.hq_comment", "HQ's comment", "Commentaire du QG"},
    {"record.hq_returned_how", "Amend this report to correct it: the new revision goes to HQ once finalized.",
     "Modifiez ce rapport pour le corriger : la nouvelle révision partira au QG une fois finalisée."},
    {"record.hq_by", "by {1}", "par {1}"},
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
    {"syncp.now", "Sync now", "Synchroniser maintenant"},
    {"syncp.now_disabled", "Available once this laptop is enrolled with HQ.",
     "Disponible une fois cet ordinateur inscrit auprès du QG."},
    {"syncp.empty", "Nothing waiting: every final report has left.",
     "Rien en attente : tous les rapports finalisés sont partis."},
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
    {"syncp.reason", "Last error, or HQ's reason", "Dernière erreur, ou motif du QG"},
    {"syncp.more_errors", "more with errors", "autres en erreur"},
    {"syncp.not_enrolled",
     "This laptop is not enrolled with HQ: reports stay safely queued here until it is.",
     "Cet ordinateur n'est pas inscrit auprès du QG : les rapports restent en file ici, en sécurité, "
     "jusqu'à son inscription."},
    {"syncp.enroll_how",
     "Enter HQ's address and the one-time enrollment code HQ issued for this unit, then press Enroll. "
     "In a terminal: outpostctl enroll --hq URL --code CODE",
     "Saisissez l'adresse du QG et le code d'inscription à usage unique délivré par le QG pour cette unité, "
     "puis appuyez sur Inscrire. Dans un terminal : outpostctl enroll --hq URL --code CODE"},
    {"syncp.reenroll_how", "To enroll this laptop again, enter HQ's address and a new one-time code from HQ.",
     "Pour inscrire de nouveau cet ordinateur, saisissez l'adresse du QG et un nouveau code à usage unique "
     "délivré par le QG."},
    {"syncp.hq_address", "HQ address", "Adresse du QG"},
    {"syncp.code", "Enrollment code", "Code d'inscription"},
    {"syncp.enroll", "Enroll", "Inscrire"},
    {"syncp.enrolling", "Enrolling...", "Inscription..."},
    {"syncp.enroll_failed", "Enrollment failed", "Échec de l'inscription"},
    {"syncp.enrolled", "Enrolled with HQ at {1}.", "Inscrit auprès du QG ({1})."},
    {"syncp.revoked_title", "HQ has revoked this laptop", "Le QG a révoqué cet ordinateur"},
    {"syncp.hq", "HQ", "QG"},
    {"syncp.link", "Link", "Liaison"},
    {"syncp.next", "Next automatic attempt", "Prochain essai automatique"},
    {"syncp.no_retry", "none: press Sync now", "aucun : appuyez sur Synchroniser maintenant"},
    {"syncp.detail", "Details", "Détails"},
    {"syncp.bar_sending", "{1} of {2} reports sent · {3}", "{1} sur {2} rapports envoyés · {3}"},
    {"syncp.bar_receiving", "Receiving HQ's updates: {1} received",
     "Réception des mises à jour du QG : {1} reçues"},
    {"syncp.bar_waiting", "{1} reports waiting · {2} to send", "{1} rapports en attente · {2} à envoyer"},
    {"syncp.bar_done", "Nothing left to send", "Plus rien à envoyer"},
    {"syncp.bar_nothing", "Nothing to send", "Rien à envoyer"},
    {"syncp.this_pass", "This sync", "Cette synchronisation"},
    {"syncp.last_pass", "Last sync", "Dernière synchronisation"},
    {"syncp.stored", "Stored", "Enregistrés"},
    {"syncp.duplicates", "Already at HQ", "Déjà au QG"},
    {"syncp.conflicts", "Conflicts", "Conflits"},
    {"syncp.rejected", "Rejected", "Rejetés"},
    {"syncp.pulled", "Received from HQ", "Reçus du QG"},
    {"syncp.requeue", "Put back in queue", "Remettre en file"},
    {"syncp.requeued", "Put back in the queue: it goes with the next sync.",
     "Remis en file : il partira avec la prochaine synchronisation."},
    {"syncp.quarantined_note_one",
     "{1} report was rejected by HQ. Fix the cause (often a form version HQ does not know yet), then put it "
     "back in the queue.",
     "{1} rapport a été rejeté par le QG. Corrigez la cause (souvent une version de formulaire que le QG ne "
     "connaît pas encore), puis remettez-le en file."},
    {"syncp.quarantined_note",
     "{1} reports were rejected by HQ. Fix the cause (often a form version HQ does not know yet), then put "
     "them back in the queue.",
     "{1} rapports ont été rejetés par le QG. Corrigez la cause (souvent une version de formulaire que le QG "
     "ne connaît pas encore), puis remettez-les en file."},
    {"syncp.held_reason",
     "its confidential section waits for HQ's conduct-and-discipline keys (HQ has published none yet)",
     "sa section confidentielle attend les clés Conduite et discipline du QG (le QG n'en a encore publié "
     "aucune)"},
    {"syncp.waiting_keys_one",
     "{1} report holds a confidential section that waits for HQ's conduct-and-discipline keys; it is sent "
     "once they arrive with a sync.",
     "{1} rapport contient une section confidentielle qui attend les clés Conduite et discipline du QG ; il "
     "partira dès leur arrivée lors d'une synchronisation."},
    {"syncp.waiting_keys",
     "{1} reports hold a confidential section that waits for HQ's conduct-and-discipline keys; they are sent "
     "once the keys arrive with a sync.",
     "{1} rapports contiennent une section confidentielle qui attend les clés Conduite et discipline du QG ; "
     "ils partiront dès leur arrivée lors d'une synchronisation."},
    // the link to HQ, in a few words (status bar, home, sync screen)
    {"link.not_enrolled", "Not enrolled", "Non inscrit"},
    {"link.revoked", "Revoked by HQ", "Révoqué par le QG"},
    {"link.upgrade", "Outpost update needed", "Mise à jour d'Outpost nécessaire"},
    {"link.starting", "Starting...", "Démarrage..."},
    {"link.connecting", "Connecting to HQ...", "Connexion au QG..."},
    {"link.sending", "Sending {1} of {2}", "Envoi : {1} sur {2}"},
    {"link.receiving", "Receiving from HQ...", "Réception depuis le QG..."},
    {"link.up_to_date", "Up to date", "À jour"},
    {"link.waiting", "Reports to send", "Rapports à envoyer"},
    {"link.last_sync", "last sync {1}", "dernière synchronisation {1}"},
    {"link.offline", "Offline", "Hors ligne"},
    {"link.unreachable", "HQ unreachable", "QG injoignable"},
    {"link.failed", "Sync failed", "Échec de la synchronisation"},
    {"link.next_try", "next try {1}", "nouvel essai {1}"},
    {"link.no_retry", "no automatic retry", "pas de nouvel essai automatique"},
    {"time.soon", "in a moment", "dans un instant"},
    {"time.in_seconds", "in {1} s", "dans {1} s"},
    {"time.in_minutes", "in {1} min", "dans {1} min"},
    {"time.at", "at {1}", "à {1}"},
    // the last outcome, as a sentence
    {"outcome.not_enrolled", "This laptop is not enrolled with HQ.",
     "Cet ordinateur n'est pas inscrit auprès du QG."},
    {"outcome.revoked",
     "Nothing is sent to HQ or received from it any more. Reports stay safe on this laptop. Ask HQ for a new "
     "enrollment code to enroll it again.",
     "Plus rien n'est envoyé au QG ni reçu de lui. Les rapports restent en sécurité sur cet ordinateur. "
     "Demandez au QG un nouveau code d'inscription pour l'inscrire de nouveau."},
    {"outcome.upgrade",
     "HQ speaks a newer version of the sync protocol: install the Outpost version HQ expects. Until then "
     "nothing is retried and reports stay queued here.",
     "Le QG utilise une version plus récente du protocole de synchronisation : installez la version "
     "d'Outpost "
     "attendue par le QG. D'ici là, rien n'est retenté et les rapports restent en file ici."},
    {"outcome.ok", "Last attempt succeeded: everything queued was sent and HQ's updates were received.",
     "Dernière tentative réussie : tout ce qui était en file a été envoyé et les mises à jour du QG ont été "
     "reçues."},
    {"outcome.offline",
     "No network: HQ cannot be reached from this laptop. Reports stay queued and leave when the link is "
     "back.",
     "Pas de réseau : le QG est inaccessible depuis cet ordinateur. Les rapports restent en file et "
     "partiront "
     "au retour de la liaison."},
    {"outcome.unreachable",
     "HQ does not answer: it may be down, or the link too poor. Reports stay queued and leave when HQ "
     "answers.",
     "Le QG ne répond pas : il est peut-être arrêté, ou la liaison trop faible. Les rapports restent en file "
     "et partiront dès que le QG répondra."},
    {"outcome.failed", "The last attempt failed; reports stay queued here.",
     "La dernière tentative a échoué ; les rapports restent en file ici."},
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
    {"rule.own_unit", "HQ takes this unit's reports only from its own laptops; this laptop reports for",
     "le QG ne prend les rapports de cette unité que de ses propres ordinateurs ; cet ordinateur rend compte "
     "pour"},
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

std::string fill(const char* text, std::initializer_list<std::string> args) {
    std::string out = text;
    int n = 0;
    for (const auto& a : args) {
        const std::string mark = "{" + std::to_string(++n) + "}";
        for (auto at = out.find(mark); at != std::string::npos; at = out.find(mark, at + a.size()))
            out.replace(at, mark.size(), a);
    }
    return out;
}

std::string formatCount(long long n) {
    const std::string digits = std::to_string(n < 0 ? -n : n);
    const std::string sep = language() == Lang::Fr ? "\xC2\xA0" : ",";
    std::string out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) out += sep;
        out += digits[i];
    }
    return n < 0 ? "-" + out : out;
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
