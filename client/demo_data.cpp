// Realistic demo records for the built-in forms: unit profiles, bilingual text tables, the four generators.
//
// [SECTION] draws and dates
// [SECTION] text: templates and the bilingual tables
// [SECTION] unit profiles
// [SECTION] readiness
// [SECTION] training
// [SECTION] training gap
// [SECTION] incident
#include "client/demo_data.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <stdexcept>
#include <utility>

#include "core/time.hpp"

namespace outpost::client {

// [SECTION] draws and dates
namespace {

using Rng = std::mt19937_64;

// The first and last day any generated date may take (see the header on "not in the future").
constexpr const char* kFirstDate = "2025-01-01";
constexpr const char* kLastDate = "2026-11-20";
// The last period end a readiness report may have: the last full month before kLastDate.
constexpr const char* kLastPeriodEnd = "2026-10-31";
// Planned dates (due dates, target dates) lie ahead of the facts but stay within the demo years.
constexpr const char* kLastPlannedDate = "2026-12-31";

// Uniform in [0, n): rejection sampling keeps it unbiased and identical on every standard library.
std::uint64_t below(Rng& r, std::uint64_t n) {
    if (n <= 1) return 0;
    const std::uint64_t limit = Rng::max() - Rng::max() % n;
    std::uint64_t x;
    do x = r();
    while (x >= limit);
    return x % n;
}

int between(Rng& r, int lo, int hi) {
    if (hi <= lo) return lo;
    return lo + static_cast<int>(below(r, static_cast<std::uint64_t>(hi - lo) + 1));
}

double real(Rng& r, double lo, double hi) {
    return lo + (hi - lo) * static_cast<double>(r() >> 11) * 0x1.0p-53;
}

bool chance(Rng& r, double p) {
    return real(r, 0.0, 1.0) < p;
}

template <typename T>
const T& pick(Rng& r, const std::vector<T>& v) {
    return v[below(r, v.size())];
}

// An index drawn with the given weights; a zero weight is never drawn.
std::size_t weighted(Rng& r, std::initializer_list<double> weights) {
    double total = 0;
    std::size_t lastPositive = 0, i = 0;
    for (double w : weights) {
        total += w;
        if (w > 0) lastPositive = i;
        ++i;
    }
    double x = real(r, 0.0, total);
    i = 0;
    for (double w : weights) {
        if (w > 0 && x < w) return i;
        x -= w;
        ++i;
    }
    return lastPositive;  // only when rounding left x at the very top
}

// FNV-1a: a unit's profile must not depend on std::hash, which differs between libraries.
std::uint64_t fnv1a(std::string_view s) {
    std::uint64_t h = 1469598103934665603ull;
    for (unsigned char c : s) {
        h ^= c;
        h *= 1099511628211ull;
    }
    return h;
}

long long dayOf(std::string_view iso) {
    auto d = core::daysFromCivil(iso);
    if (!d) throw std::invalid_argument("not a date (YYYY-MM-DD): '" + std::string(iso) + "'");
    return *d;
}

// The inverse of daysFromCivil (Howard Hinnant's civil_from_days).
std::string isoDate(long long days) {
    days += 719468;
    const long long era = (days >= 0 ? days : days - 146096) / 146097;
    const long long doe = days - era * 146097;
    const long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const long long mp = (5 * doy + 2) / 153;
    const long long d = doy - (153 * mp + 2) / 5 + 1;
    const long long m = mp < 10 ? mp + 3 : mp - 9;
    const long long y = yoe + era * 400 + (m <= 2 ? 1 : 0);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lld", y, m, d);
    return buf;
}

long long firstDay() {
    return dayOf(kFirstDate);
}
long long lastDay() {
    return dayOf(kLastDate);
}
long long lastPlannedDay() {
    return dayOf(kLastPlannedDate);
}

long long dayIn(Rng& r, long long lo, long long hi) {
    if (hi <= lo) return lo;
    return lo + static_cast<long long>(below(r, static_cast<std::uint64_t>(hi - lo) + 1));
}

int yearOf(long long day) {
    return std::stoi(isoDate(day).substr(0, 4));
}

// The first day of the month `back` months before the month of `day` (0: the same month).
long long monthStart(long long day, int back) {
    std::string d = isoDate(day);
    int y = std::stoi(d.substr(0, 4)), m = std::stoi(d.substr(5, 2)) - back;
    while (m < 1) {
        m += 12;
        --y;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04d-%02d-01", y, m);
    return dayOf(buf);
}

bool isMonthEnd(long long day) {
    return isoDate(day + 1).substr(8, 2) == "01";
}

double round1(double x) {
    return std::round(x * 10.0) / 10.0;
}

// [SECTION] text: templates and the bilingual tables
struct Text {
    const char* en;
    const char* fr;
};

using Vars = std::vector<std::pair<std::string, std::string>>;

// Replaces every "{name}" of the template with its value.
std::string fill(std::string s, const Vars& vars) {
    for (const auto& [k, v] : vars) {
        const std::string key = "{" + k + "}";
        for (auto pos = s.find(key); pos != std::string::npos; pos = s.find(key, pos + v.size()))
            s.replace(pos, key.size(), v);
    }
    return s;
}

// Countries whose contingents write their reports in French when the mission works in French.
const std::set<std::string, std::less<>> kFrancophone = {"BDI", "BEN", "BFA", "CAF", "CIV", "CMR", "COD",
                                                         "COG", "DJI", "FRA", "GAB", "GIN", "MAR", "MDG",
                                                         "MLI", "MRT", "NER", "SEN", "TCD", "TGO", "TUN"};

// The language a contingent trains in among itself: a code of the "languages" choice list, and the
// name to record when that code is "other".
struct HomeLanguage {
    const char* country;
    const char* code;
    const char* other;
};
const std::vector<HomeLanguage> kHomeLanguages = {
    {"BGD", "other", "Bangla"},
    {"EGY", "ar", ""},
    {"IDN", "other", "Bahasa Indonesia"},
    {"JOR", "ar", ""},
    {"MAR", "ar", ""},
    {"MRT", "ar", ""},
    {"NPL", "other", "Nepali"},
    {"PAK", "other", "Urdu"},
    {"PER", "es", ""},
    {"PRT", "pt", ""},
    {"RWA", "other", "Kinyarwanda"},
    {"SRB", "other", "Serbian"},
    {"TUN", "ar", ""},
    {"TZA", "other", "Kiswahili"},
    {"BDI", "other", "Kirundi"},
    {"SEN", "other", "Wolof"},
};

// ---- readiness ----
const std::vector<Text> kShortfall = {
    {"{cancelled}: the road to {site} was impassable after heavy rain.",
     "{cancelled} : la route vers {site} était impraticable après de fortes pluies."},
    {"{cancelled} after an explosive hazard was reported on the route to {site}; route clearance awaited.",
     "{cancelled} après le signalement d'un engin explosif sur l'axe vers {site} ; dépollution de "
     "l'itinéraire attendue."},
    {"Vehicles diverted to convoy escort duties: {cancelled_lc} for lack of vehicles.",
     "Véhicules réaffectés à l'escorte de convois : {cancelled_lc} faute de véhicules."},
    {"Fuel resupply delayed by five days: {cancelled_lc}, postponed to the next period.",
     "Ravitaillement en carburant retardé de cinq jours : {cancelled_lc}, reportée(s) à la période "
     "suivante."},
    {"{cancelled}: armed group activity on the axis to {site} and no helicopter available for casualty "
     "evacuation.",
     "{cancelled} : activité de groupes armés sur l'axe vers {site} et aucun hélicoptère disponible pour "
     "l'évacuation sanitaire."},
    {"The bridge on the road to {site} collapsed: {cancelled_lc} pending repair by the engineers.",
     "Le pont sur la route de {site} s'est effondré : {cancelled_lc} dans l'attente des travaux du génie."},
    {"{cancelled} during the movement restrictions ordered by the sector after the attack near {site}.",
     "{cancelled} pendant les restrictions de mouvement ordonnées par le secteur après l'attaque près de "
     "{site}."},
};

struct TaskText {
    const char* task;
    Text evidence;
};
const std::vector<TaskText> kTaskEvidence = {
    {"long_range_patrol",
     {"Five-day long-range patrol to {site} observed; route reconnaissance and community engagement reports "
      "checked.",
      "Patrouille de longue portée de cinq jours vers {site} observée ; comptes rendus de reconnaissance et "
      "d'engagement communautaire vérifiés."}},
    {"day_night_patrol",
     {"Patrol logs of the period checked; two night patrols around {site} accompanied by sector staff.",
      "Registres de patrouille de la période vérifiés ; deux patrouilles de nuit autour de {site} "
      "accompagnées par l'état-major du secteur."}},
    {"protect_civilian_site",
     {"Static guard and perimeter patrols at the site for displaced persons near {site} observed over two "
      "days.",
      "Garde statique et patrouilles de périmètre au site de déplacés près de {site} observées pendant deux "
      "jours."}},
    {"operate_checkpoint",
     {"Joint checkpoint on the main supply route at {site} observed; search procedures and weapon handling "
      "correct.",
      "Poste de contrôle conjoint sur l'axe principal à {site} observé ; procédures de fouille et maniement "
      "des armes conformes."}},
    {"convoy_escort",
     {"Escort of a logistics convoy to {site} observed; convoy orders and radio checks in place.",
      "Escorte d'un convoi logistique vers {site} observée ; ordres de convoi et contrôles radio en place."}},
    {"cordon_and_search",
     {"Cordon and search rehearsed at company level with the host-state police; timings met.",
      "Bouclage et fouille répétés au niveau compagnie avec la police du pays hôte ; délais respectés."}},
    {"temporary_operating_base",
     {"Temporary operating base set up near {site} within 48 hours; force protection measures inspected.",
      "Base opérationnelle temporaire installée près de {site} en 48 heures ; mesures de protection de la "
      "force inspectées."}},
    {"quick_reaction",
     {"Alert drill: the quick reaction platoon was ready to move in 25 minutes against a 30-minute standard.",
      "Exercice d'alerte : la section d'intervention était prête à partir en 25 minutes pour une norme de 30 "
      "minutes."}},
    {"defend_base",
     {"Base defence rehearsal with alarm, stand-to and casualty drills; bunkers and sentry posts inspected.",
      "Répétition de défense du camp avec alerte, postes de combat et évacuation des blessés ; abris et "
      "postes de sentinelle inspectés."}},
    {"casualty_evacuation",
     {"Casualty evacuation exercise with the level-2 hospital; first casualty handed over within the "
      "one-hour standard.",
      "Exercice d'évacuation sanitaire avec l'hôpital de niveau 2 ; premier blessé remis dans la norme d'une "
      "heure."}},
    {"crowd_control",
     {"Public order exercise at platoon level observed; graduated response and use-of-force reporting "
      "correct.",
      "Exercice de maintien de l'ordre au niveau section observé ; riposte graduée et compte rendu d'emploi "
      "de la force conformes."}},
    {"close_protection",
     {"Close protection of a visiting delegation in {site} observed; route planning and vehicle drills "
      "sound.",
      "Protection rapprochée d'une délégation en visite à {site} observée ; itinéraires et procédures "
      "véhicules maîtrisés."}},
    {"joint_police_patrol",
     {"Joint patrols with the host-state police in {site} checked against the patrol register.",
      "Patrouilles conjointes avec les forces de sécurité intérieure à {site} vérifiées sur le registre des "
      "patrouilles."}},
    {"route_repair",
     {"Repair of {km} km of the main supply route towards {site} inspected; culverts and drainage to "
      "standard.",
      "Réhabilitation de {km} km de l'axe principal vers {site} inspectée ; buses et drainage conformes."}},
    {"mass_casualty",
     {"Mass casualty exercise with 20 simulated casualties; triage and surgical team activated within the "
      "standard.",
      "Exercice d'afflux massif avec 20 blessés simulés ; triage et équipe chirurgicale activés dans la "
      "norme."}},
    {"monitor_report",
     {"Daily situation reports and patrol reports of the team sites checked; reporting deadlines met.",
      "Rapports de situation quotidiens et comptes rendus de patrouille des bases d'équipe vérifiés ; délais "
      "respectés."}},
    {"establish_communications",
     {"Tactical command post deployed at {site}: voice and data links up within six hours.",
      "Poste de commandement tactique déployé à {site} : liaisons voix et données établies en six heures."}},
};
const Text kTaskEvidenceDefault = {"Observed during routine operations; records checked.",
                                   "Observée lors des activités courantes ; registres vérifiés."};
const std::vector<Text> kTaskRemarks = {
    {"Repeat at night next period.", "À renouveler de nuit la période prochaine."},
    {"Few interpreters available: limited engagement with the population.",
     "Peu d'interprètes disponibles : engagement limité avec la population."},
    {"Good coordination with the sector headquarters.",
     "Bonne coordination avec le quartier général du secteur."},
    {"Radio discipline to be improved.", "Discipline radio à améliorer."},
    {"The women engagement team took part.", "L'équipe d'engagement féminine a participé."},
    {"Vehicle availability limited the scale of the exercise.",
     "La disponibilité des véhicules a limité l'ampleur de l'exercice."},
};
const Text kTaskNotObserved = {"Not conducted during the period.", "Non conduite pendant la période."};

const std::vector<Text> kEquipmentRemarks = {
    {"Awaiting spare parts from the home country; cannibalisation not authorised.",
     "Pièces de rechange attendues du pays d'origine ; cannibalisation non autorisée."},
    {"Two items damaged in a road accident; repair estimate requested.",
     "Deux unités endommagées dans un accident de la route ; devis de réparation demandé."},
    {"Replacement in transit from the port of Douala.", "Remplacement en transit depuis le port de Douala."},
    {"Engine failures after the rainy season; the workshop is short of mechanics.",
     "Pannes moteur après la saison des pluies ; l'atelier manque de mécaniciens."},
    {"Written off after an attack on a convoy; replacement requested under the MOU.",
     "Réformé après l'attaque d'un convoi ; remplacement demandé au titre du mémorandum d'accord."},
    {"Tyres worn beyond limits; tyre shipment expected next month.",
     "Pneumatiques usés au-delà des limites ; livraison attendue le mois prochain."},
    {"Shortfall against the MOU since deployment; the contributing country has been informed.",
     "Déficit par rapport au mémorandum d'accord depuis le déploiement ; le pays fournisseur a été informé."},
};

const std::vector<Text> kSelfSustainmentRemarks = {
    {"Spare parts awaited from the home country; interim arrangement with the mission in place.",
     "Pièces de rechange attendues du pays d'origine ; solution provisoire convenue avec la mission."},
    {"Stocks below the 60-day level after the late arrival of the resupply flight.",
     "Stocks inférieurs au niveau de 60 jours après l'arrivée tardive du vol de ravitaillement."},
    {"Equipment sent to the temporary operating base not yet returned.",
     "Matériel envoyé sur la base opérationnelle temporaire pas encore rapatrié."},
    {"Capacity insufficient since the strength increase; support requested from the mission.",
     "Capacité insuffisante depuis l'augmentation des effectifs ; soutien demandé à la mission."},
    {"Half of the items out of use after storm damage; replacement ordered.",
     "La moitié des éléments hors d'usage après une tempête ; remplacement commandé."},
    {"The COE inspection found the standard partly met; corrective plan agreed.",
     "L'inspection COE a relevé une conformité partielle ; plan correctif convenu."},
};
struct CategoryText {
    const char* category;
    Text text;
};
const std::vector<CategoryText> kSelfSustainmentSpecific = {
    {"catering",
     {"One of two refrigerated containers out of service; fresh rations kept at the sector hub.",
      "Un des deux conteneurs frigorifiques hors service ; vivres frais stockés au centre logistique du "
      "secteur."}},
    {"internet",
     {"Bandwidth too low for welfare calls in the evening; a second satellite link requested.",
      "Débit insuffisant pour les appels de bien-être le soir ; une deuxième liaison satellite demandée."}},
    {"accommodation",
     {"Hard-wall accommodation of the detached platoon not finished; personnel still in tents.",
      "Hébergement en dur de la section détachée non terminé ; personnel encore sous tente."}},
    {"firefighting",
     {"Fire extinguishers due for refill; refill contract with the mission pending.",
      "Extincteurs à recharger ; contrat de recharge avec la mission en attente."}},
    {"medical",
     {"Medicines for the level-1 clinic below the 30-day stock; emergency order placed.",
      "Médicaments du poste médical de niveau 1 sous le stock de 30 jours ; commande urgente passée."}},
    {"electrical",
     {"Frequent outages at the company operating base; wiring to be redone.",
      "Coupures fréquentes à la base opérationnelle de compagnie ; câblage à refaire."}},
    {"tentage",
     {"Tents at the temporary operating base torn by the wind; replacements requested.",
      "Tentes de la base opérationnelle temporaire déchirées par le vent ; remplacements demandés."}},
    {"field_defence_stores",
     {"Sandbags and barbed wire insufficient for the new observation post.",
      "Sacs de sable et barbelés insuffisants pour le nouveau poste d'observation."}},
};

struct CaveatText {
    const char* type;
    Text description;
    Text effect;
};
const std::vector<CaveatText> kCaveats = {
    {"geographic",
     {"Companies do not deploy more than 150 km from the battalion headquarters without national approval.",
      "Les compagnies ne se déploient pas à plus de 150 km du quartier général du bataillon sans "
      "autorisation nationale."},
     {"Long-range patrols towards {site} need 72 hours' notice for approval.",
      "Les patrouilles de longue portée vers {site} exigent un préavis de 72 heures pour autorisation."}},
    {"time",
     {"No road movement outside the camps between 18:00 and 06:00.",
      "Aucun déplacement routier hors des camps entre 18 h 00 et 06 h 00."},
     {"Night patrols are limited to the immediate surroundings of the camps.",
      "Les patrouilles de nuit sont limitées aux abords immédiats des camps."}},
    {"task",
     {"The unit does not conduct crowd control.", "L'unité n'assure pas le contrôle des foules."},
     {"Public order incidents in the sector must be handed to the formed police unit.",
      "Les troubles à l'ordre public dans le secteur doivent être confiés à l'unité de police constituée."}},
    {"command",
     {"Sending more than one platoon outside the area of responsibility requires approval from the capital.",
      "L'envoi de plus d'une section hors de la zone de responsabilité requiert l'autorisation de la "
      "capitale."},
     {"Reinforcing a neighbouring sector takes 24 to 48 hours longer than planned.",
      "Le renforcement d'un secteur voisin prend 24 à 48 heures de plus que prévu."}},
    {"equipment",
     {"Unmanned aircraft are flown only over the camp perimeter.",
      "Les drones ne sont employés qu'au-dessus du périmètre du camp."},
     {"No aerial surveillance of the routes used by convoys.",
      "Aucune surveillance aérienne des itinéraires empruntés par les convois."}},
    {"use_of_force",
     {"Use of crew-served weapons requires the contingent commander's authorisation.",
      "L'emploi des armes collectives requiert l'autorisation du commandant du contingent."},
     {"The response to an attack on a convoy may be delayed.",
      "La riposte à une attaque contre un convoi peut être retardée."}},
};

struct ImprovementText {
    Text finding;
    Text action;
    const char* owner;
};
const std::vector<ImprovementText> kImprovements = {
    {{"Radio discipline and reporting delays during the base defence rehearsal.",
      "Discipline radio et retards de compte rendu lors de la répétition de défense du camp."},
     {"Weekly radio procedure training for all section commanders.",
      "Instruction hebdomadaire aux procédures radio pour tous les chefs de groupe."},
     "unit"},
    {{"Major equipment unserviceable for more than 60 days awaiting spare parts.",
      "Matériel majeur indisponible depuis plus de 60 jours dans l'attente de pièces de rechange."},
     {"Expedite the spare parts shipment and report progress every two weeks.",
      "Accélérer l'envoi des pièces de rechange et rendre compte de l'avancement tous les quinze jours."},
     "contributing_country"},
    {{"Part of the personnel has not completed the annual PSEA refresher.",
      "Une partie du personnel n'a pas suivi le recyclage annuel PEAS."},
     {"Schedule two PSEA sessions with the Conduct and Discipline Team before the end of next month.",
      "Programmer deux sessions PEAS avec l'Équipe Conduite et discipline avant la fin du mois prochain."},
     "unit"},
    {{"Engagement with women in the communities is limited.",
      "L'engagement auprès des femmes des communautés reste limité."},
     {"Deploy the women engagement team with every long-range patrol.",
      "Déployer l'équipe d'engagement féminine avec chaque patrouille de longue portée."},
     "unit"},
    {{"Perimeter lighting of the camp insufficient on the northern side.",
      "Éclairage du périmètre du camp insuffisant côté nord."},
     {"Install six solar lights and clear the vegetation along the fence.",
      "Installer six lampadaires solaires et débroussailler le long de la clôture."},
     "mission"},
    {{"Casualty evacuation drills exceed the one-hour standard.",
      "Les exercices d'évacuation sanitaire dépassent la norme d'une heure."},
     {"Rehearse casualty evacuation with the level-2 hospital every month.",
      "Répéter chaque mois l'évacuation sanitaire avec l'hôpital de niveau 2."},
     "unit"},
    {{"Water purification capacity below the daily need since the strength increase.",
      "Capacité de purification d'eau inférieure au besoin quotidien depuis l'augmentation des effectifs."},
     {"Request a second purification unit under the MOU.",
      "Demander une deuxième unité de purification au titre du mémorandum d'accord."},
     "contributing_country"},
    {{"Fuel resupply of the temporary operating base is unreliable.",
      "Le ravitaillement en carburant de la base opérationnelle temporaire est irrégulier."},
     {"Agree a monthly fuel delivery plan with the mission's supply section.",
      "Convenir d'un plan mensuel de livraison de carburant avec la section approvisionnement de la "
      "mission."},
     "mission"},
    {{"Not enough interpreters for community engagement.",
      "Nombre insuffisant d'interprètes pour l'engagement communautaire."},
     {"Request two more community liaison assistants from the mission.",
      "Demander deux assistants de liaison communautaire supplémentaires à la mission."},
     "mission"},
    {{"Monthly reports submitted late.", "Rapports mensuels transmis en retard."},
     {"Appoint a reporting officer and submit reports within five days of the period end.",
      "Désigner un officier chargé des comptes rendus et transmettre les rapports sous cinq jours après la "
      "fin de période."},
     "unit"},
    {{"Training material on the revised protection of civilians policy not available in the unit's language.",
      "Supports de formation sur la politique révisée de protection des civils non disponibles dans la "
      "langue de l'unité."},
     {"Request translated material from the Integrated Training Service.",
      "Demander des supports traduits au Service intégré de formation."},
     "unhq"},
};

const std::vector<Text> kCommanderRemarks = {
    {"The unit kept up its operational tempo despite the rainy season. Priorities for next month: restore "
     "the serviceability of the vehicle fleet and complete the PSEA refresher for the incoming personnel.",
     "L'unité a maintenu son rythme opérationnel malgré la saison des pluies. Priorités du mois prochain : "
     "rétablir la disponibilité du parc de véhicules et achever le recyclage PEAS du personnel entrant."},
    {"Good cooperation with the sector headquarters and the local authorities. Delays in fuel resupply "
     "remain the main constraint on long-range patrolling.",
     "Bonne coopération avec le quartier général du secteur et les autorités locales. Les retards de "
     "ravitaillement en carburant restent la principale contrainte pour les patrouilles de longue portée."},
    {"Force protection works at the company operating base are complete. The unit asks for support to repair "
     "the access road before the rains.",
     "Les travaux de protection de la force de la base opérationnelle de compagnie sont achevés. L'unité "
     "sollicite un appui pour réparer la piste d'accès avant les pluies."},
    {"Morale is good. Two personnel were medically evacuated during the period; both are back on duty.",
     "Le moral est bon. Deux personnels ont été évacués pour raison médicale pendant la période ; tous deux "
     "ont repris leur service."},
    {"The unit took part in the sector exercise and met the readiness standard of its quick reaction "
     "element.",
     "L'unité a participé à l'exercice de secteur et a satisfait à la norme de disponibilité de son élément "
     "d'intervention rapide."},
    {"All newly arrived personnel completed the mission induction. Women now take part in most patrols "
     "thanks to the engagement team.",
     "Tout le personnel nouvellement arrivé a suivi la formation d'intégration. Des femmes participent "
     "désormais à la plupart des patrouilles grâce à l'équipe d'engagement."},
    {"Spare parts for the generators arrived at the end of the period; serviceability should recover next "
     "month.",
     "Les pièces de rechange des groupes électrogènes sont arrivées en fin de période ; la disponibilité "
     "devrait se rétablir le mois prochain."},
    {"The rotation of the second company was completed without incident; the handover of the temporary "
     "operating base is under way.",
     "La relève de la deuxième compagnie s'est déroulée sans incident ; la passation de la base "
     "opérationnelle temporaire est en cours."},
    {"No misconduct was reported during the period. Conduct and discipline briefings continue every week.",
     "Aucun manquement n'a été signalé pendant la période. Les séances d'information sur la conduite et la "
     "discipline se poursuivent chaque semaine."},
    {"Heavy rains cut the main supply route for ten days; the unit was resupplied by air.",
     "De fortes pluies ont coupé l'axe logistique principal pendant dix jours ; l'unité a été ravitaillée "
     "par voie aérienne."},
};
struct TypeText {
    const char* unitType;
    Text text;
};
const std::vector<TypeText> kCommanderRemarksByType = {
    {"level2_hospital",
     {"The hospital treated {n} patients during the period, {m} of them surgical cases; the operating "
      "theatre was available throughout.",
      "L'hôpital a traité {n} patients pendant la période, dont {m} cas chirurgicaux ; le bloc opératoire "
      "est resté disponible en permanence."}},
    {"aviation_unit",
     {"The unit flew {n} hours during the period, including {m} casualty evacuation missions; one helicopter "
      "was in scheduled maintenance.",
      "L'unité a effectué {n} heures de vol pendant la période, dont {m} missions d'évacuation sanitaire ; "
      "un hélicoptère était en maintenance programmée."}},
    {"engineering_company",
     {"The company repaired {n} km of roads and {m} bridges during the period; work slowed down in the "
      "rains.",
      "La compagnie a réhabilité {n} km de routes et {m} ponts pendant la période ; les travaux ont ralenti "
      "avec les pluies."}},
    {"fpu",
     {"The unit secured {m} public events without incident and conducted joint patrols with the host-state "
      "police every day.",
      "L'unité a sécurisé {m} manifestations publiques sans incident et a conduit chaque jour des "
      "patrouilles conjointes avec les forces de sécurité intérieure."}},
    {"military_observers",
     {"The team sites reported on time; access to two villages remained restricted by armed groups.",
      "Les bases d'équipe ont rendu compte dans les délais ; l'accès à deux villages est resté restreint par "
      "des groupes armés."}},
    {"signals_company",
     {"Network availability was {n} % over the period; the link to the eastern sector failed twice.",
      "La disponibilité du réseau a été de {n} % sur la période ; la liaison avec le secteur est a été "
      "coupée deux fois."}},
};

// ---- training ----
const std::vector<Text> kTrainersMissionCentre = {
    {"Integrated mission training centre: two instructors",
     "Centre intégré de formation de la mission : deux formateurs"},
    {"Integrated mission training centre with the sector training officer",
     "Centre intégré de formation de la mission avec l'officier instruction du secteur"},
    {"Mission training centre instructors and a human rights officer",
     "Formateurs du centre de formation de la mission et un spécialiste des droits humains"},
};
const std::vector<Text> kTrainersUnit = {
    {"Unit training cell and company commanders",
     "Cellule instruction de l'unité et commandants de compagnie"},
    {"Unit medical officer and two combat medics", "Médecin de l'unité et deux auxiliaires sanitaires"},
    {"Unit legal adviser and the gender focal point", "Conseiller juridique de l'unité et point focal genre"},
    {"Unit operations officer and platoon commanders", "Officier opérations de l'unité et chefs de section"},
};
const std::vector<Text> kTrainersMemberState = {
    {"Mobile training team of the national peacekeeping training centre",
     "Équipe mobile du centre national de formation au maintien de la paix"},
    {"Mobile training team of the home country's army training command",
     "Équipe mobile du commandement de la formation de l'armée du pays d'origine"},
};
const std::vector<Text> kTrainersIts = {
    {"Integrated Training Service mobile team", "Équipe mobile du Service intégré de formation"},
    {"Integrated Training Service mobile team with the mission's conduct and discipline staff",
     "Équipe mobile du Service intégré de formation avec le personnel conduite et discipline de la mission"},
};
const Text kTrainersConduct = {"Conduct and Discipline Team and the unit's PSEA focal point",
                               "Équipe Conduite et discipline et point focal PEAS de l'unité"};

const std::vector<Text> kTrainingRemarks = {
    {"Session given in two groups to keep operations going.",
     "Session dispensée en deux groupes pour maintenir les activités opérationnelles."},
    {"Practical scenarios based on recent incidents in the sector.",
     "Mises en situation fondées sur des incidents récents dans le secteur."},
    {"Interpretation provided for part of the session.",
     "Interprétation assurée pour une partie de la session."},
    {"Personnel on patrol during the session will attend the next one.",
     "Le personnel en patrouille pendant la session suivra la prochaine."},
    {"Session interrupted for half a day by an operational alert.",
     "Session interrompue une demi-journée par une alerte opérationnelle."},
    {"Certificates issued to all attendees who passed.",
     "Certificats remis à tous les participants ayant réussi."},
    {"Training rooms too small for the group; part of the session held outdoors.",
     "Salles trop petites pour le groupe ; une partie de la session s'est tenue en plein air."},
};
const std::vector<Text> kTrainingFollowUp = {
    {"Attendees below the pass mark will repeat the module next month.",
     "Les participants sous le seuil de réussite referont le module le mois prochain."},
    {"The next session is planned for the incoming personnel after the rotation.",
     "La prochaine session est prévue pour le personnel entrant après la relève."},
    {"Attendance list and test results filed with the unit training cell.",
     "Liste de présence et résultats des tests archivés à la cellule instruction de l'unité."},
    {"Attendees rated the session useful; more practical exercises requested.",
     "Les participants ont jugé la session utile ; davantage d'exercices pratiques demandés."},
    {"Three attendees recalled to operations before the last module; they will complete it with the next "
     "group.",
     "Trois participants rappelés en opération avant le dernier module ; ils le termineront avec le groupe "
     "suivant."},
};
const Text kTrainingRemarkTest = {
    "The average score rose from {pre} % in the pre-test to {post} % in the post-test.",
    "La moyenne est passée de {pre} % au pré-test à {post} % au post-test."};
const std::vector<CategoryText> kTrainingRemarksByCourse = {
    {"cptm_3_3",
     {"The Conduct and Discipline Team presented the reporting channels and the standards of conduct.",
      "L'Équipe Conduite et discipline a présenté les canaux de signalement et les normes de conduite."}},
    {"cptm_3_4",
     {"The Conduct and Discipline Team presented the reporting channels and the referral of victims to "
      "assistance.",
      "L'Équipe Conduite et discipline a présenté les canaux de signalement et l'orientation des victimes "
      "vers l'assistance."}},
    {"psea",
     {"Case studies on transactional sex and exploitative relationships; zero-tolerance policy recalled.",
      "Études de cas sur les relations sexuelles transactionnelles et les relations d'exploitation ; "
      "politique de tolérance zéro rappelée."}},
    {"casevac_first_aid",
     {"Included a live casualty evacuation drill with the level-2 hospital.",
      "Comprenait un exercice réel d'évacuation sanitaire avec l'hôpital de niveau 2."}},
    {"ied_awareness",
     {"Practical lane with inert devices along a simulated route.",
      "Atelier pratique avec des engins inertes le long d'un itinéraire simulé."}},
    {"poc",
     {"Tabletop exercise on early warning and response for the area around {site}.",
      "Exercice sur table d'alerte précoce et de réaction pour la zone de {site}."}},
    {"mission_induction",
     {"Covered the mandate, security, conduct and discipline and the local context.",
      "A couvert le mandat, la sécurité, la conduite et la discipline ainsi que le contexte local."}},
    {"human_rights",
     {"Focus on arrest and handover procedures and the human rights due diligence policy.",
      "Accent mis sur les procédures d'arrestation et de remise et sur la politique de diligence voulue en "
      "matière de droits humains."}},
    {"environment",
     {"Waste management and water use at the camps; visit of the wastewater treatment plant.",
      "Gestion des déchets et consommation d'eau dans les camps ; visite de la station de traitement des "
      "eaux usées."}},
};

// ---- training gap ----
const std::vector<Text> kGapWithCourse = {
    {"{n} personnel of the incoming contingent have not completed {course}.",
     "{n} membres du personnel du contingent entrant n'ont pas suivi {course}."},
    {"The annual refresher {course} is overdue for {n} personnel.",
     "Le recyclage annuel {course} est en retard pour {n} membres du personnel."},
    {"Post-test results for {course} below the pass mark for {n} personnel.",
     "Résultats au post-test {course} inférieurs au seuil de réussite pour {n} membres du personnel."},
    {"Pre-deployment certificates for {course} missing for {n} personnel of the last rotation.",
     "Attestations de formation préalable au déploiement {course} manquantes pour {n} membres du personnel "
     "de la dernière relève."},
};
const std::vector<Text> kGapWithoutCourse = {
    {"Drivers not trained on the mine-protected vehicles received under the MOU.",
     "Conducteurs non formés aux véhicules protégés contre les mines reçus au titre du mémorandum d'accord."},
    {"New platoon commanders do not master the night-vision equipment.",
     "Les nouveaux chefs de section ne maîtrisent pas le matériel de vision nocturne."},
    {"Too few personnel trained in community liaison and interpretation in Sango.",
     "Trop peu de personnels formés à la liaison communautaire et à l'interprétation en sango."},
    {"The camp firefighting team is not trained on the new firefighting equipment.",
     "L'équipe de lutte contre l'incendie du camp n'est pas formée au nouveau matériel."},
    {"Staff not trained on the new digital reporting tools of the mission.",
     "Personnel non formé aux nouveaux outils numériques de compte rendu de la mission."},
};
const std::vector<Text> kGapCauses = {
    {"The rotation arrived two weeks early; pre-deployment training was shortened.",
     "La relève est arrivée avec deux semaines d'avance ; la formation préalable au déploiement a été "
     "écourtée."},
    {"No French-speaking instructor at the mission training centre during the period.",
     "Aucun formateur francophone au centre de formation de la mission pendant la période."},
    {"Personnel deployed to the temporary operating base during the scheduled sessions.",
     "Personnel déployé sur la base opérationnelle temporaire pendant les sessions prévues."},
    {"Training material not yet translated.", "Supports de formation pas encore traduits."},
    {"Trainer on sick leave; session postponed.", "Formateur en congé de maladie ; session reportée."},
    {"New equipment delivered without the training package foreseen in the MOU.",
     "Nouveau matériel livré sans le module de formation prévu par le mémorandum d'accord."},
};
const std::vector<Text> kGapRemarks = {
    {"Follow-up at the next monthly readiness review.",
     "Suivi lors de la prochaine revue mensuelle de l'état de préparation."},
    {"Request for a mobile training team sent to the Integrated Training Service.",
     "Demande d'équipe mobile de formation adressée au Service intégré de formation."},
    {"Sessions planned at the company operating bases to limit travel.",
     "Sessions prévues dans les bases opérationnelles de compagnie pour limiter les déplacements."},
    {"Raised with the sector training officer.", "Signalée à l'officier instruction du secteur."},
};
const Text kGapClosedRemark = {"Closed after a session for all the personnel concerned.",
                               "Close après une session pour tout le personnel concerné."};

// ---- incident ----
// A description and how many alleged perpetrators it speaks of (0: not said, one to three).
struct IncidentText {
    int perpetrators;
    Text text;
};
struct IncidentType {
    const char* type;
    const char* thematic;
    bool serious;
    double weight;      // how often it occurs among non-SEA cases
    const char* ranks;  // rank bands, most likely first, separated by spaces
    std::vector<IncidentText> descriptions;
};
const std::vector<IncidentType> kIncidentTypes = {
    {"traffic_violation",
     "rules",
     false,
     22,
     "other_rank nco",
     {{1,
       {"A UN utility vehicle driven by a soldier of the unit hit a motorcycle taxi in {site} while speeding "
        "in town. The rider was slightly injured and treated at the district hospital. The driver had no "
        "valid mission driving permit.",
        "Un véhicule utilitaire de l'ONU conduit par un militaire de l'unité a percuté un moto-taxi à {site} "
        "en roulant trop vite en ville. Le conducteur de la moto, légèrement blessé, a été soigné à "
        "l'hôpital de district. Le conducteur du véhicule n'avait pas de permis de conduire de la mission "
        "valide."}},
      {1,
       {"A unit truck overturned on the road to {site} after the driver ignored the convoy speed limit; no "
        "one was injured and the cargo was recovered.",
        "Un camion de l'unité s'est renversé sur la route de {site}, le conducteur n'ayant pas respecté la "
        "vitesse imposée au convoi ; aucun blessé, le chargement a été récupéré."}}}},
    {"curfew_breach",
     "rules",
     false,
     18,
     "other_rank nco",
     {{2,
       {"Two soldiers of the unit were found outside the camp after the 19:00 curfew, in a bar in {site}, by "
        "the military police patrol and taken back to the camp.",
        "Deux militaires de l'unité ont été trouvés hors du camp après le couvre-feu de 19 h 00, dans un "
        "débit de boissons de {site}, par la patrouille de police militaire et reconduits au camp."}}}},
    {"unauthorised_absence",
     "rules",
     false,
     8,
     "other_rank nco",
     {{1,
       {"A non-commissioned officer was absent from the company operating base at {site} without "
        "authorisation for 36 hours before reporting back to the duty officer.",
        "Un sous-officier s'est absenté sans autorisation de la base opérationnelle de compagnie de {site} "
        "pendant 36 heures avant de se présenter à l'officier de permanence."}}}},
    {"alcohol",
     "substances",
     false,
     12,
     "other_rank nco",
     {{1,
       {"A soldier on guard duty at the camp in {site} was found drunk by the duty officer; a breath test "
        "confirmed it.",
        "Un militaire de garde au camp de {site} a été trouvé en état d'ébriété par l'officier de permanence "
        "; un alcootest l'a confirmé."}}}},
    {"narcotics",
     "substances",
     true,
     3,
     "other_rank",
     {{1,
       {"During a routine search of the living quarters at {site}, cannabis was found in the locker of a "
        "soldier of the unit.",
        "Lors d'une fouille de routine des logements à {site}, du cannabis a été découvert dans le casier "
        "d'un militaire de l'unité."}}}},
    {"theft",
     "financial",
     false,
     9,
     "other_rank nco",
     {{0,
       {"Fuel was drawn from a UN generator at the camp in {site} and sold at the local market, according to "
        "the camp commandant. About 200 litres are unaccounted for.",
        "Du carburant a été prélevé sur un groupe électrogène de l'ONU au camp de {site} et revendu au "
        "marché local, selon le commandant du camp. Environ 200 litres manquent."}}}},
    {"misuse_of_property",
     "financial",
     false,
     8,
     "nco junior_officer other_rank",
     {{1,
       {"A UN vehicle was used without authorisation for a private trip to the market in {site} outside duty "
        "hours.",
        "Un véhicule de l'ONU a été utilisé sans autorisation pour un déplacement privé au marché de {site} "
        "en dehors des heures de service."}}}},
    {"fraud",
     "financial",
     true,
     3,
     "nco junior_officer",
     {{0,
       {"The fuel log of the transport section shows entries for vehicles that did not move during the "
        "period; the quantities do not match the records of the fuel station.",
        "Le registre de carburant de la section transport comporte des entrées pour des véhicules restés à "
        "l'arrêt pendant la période ; les quantités ne correspondent pas aux relevés de la station."}}}},
    {"corruption",
     "financial",
     true,
     2,
     "nco other_rank",
     {{0,
       {"Traders at the weekly market in {site} reported that personnel at the checkpoint asked for payment "
        "to let goods through.",
        "Des commerçants du marché hebdomadaire de {site} ont signalé que des personnels du poste de "
        "contrôle exigeaient un paiement pour laisser passer les marchandises."}}}},
    {"assault",
     "violence",
     true,
     6,
     "other_rank nco",
     {{1,
       {"During an argument in the camp at {site}, a soldier struck another soldier, who was treated at the "
        "unit's medical post.",
        "Au cours d'une dispute au camp de {site}, un militaire a frappé un camarade, qui a été soigné au "
        "poste médical de l'unité."}},
      {2,
       {"A shopkeeper in {site} reported being pushed and slapped by two members of a patrol after a dispute "
        "over a price.",
        "Un commerçant de {site} a déclaré avoir été bousculé et giflé par deux membres d'une patrouille "
        "après un différend sur un prix."}}}},
    {"abuse_of_detainees",
     "violence",
     true,
     1,
     "nco junior_officer",
     {{0,
       {"A suspect stopped at the checkpoint in {site} was held at the company operating base for more than "
        "24 hours before being handed over to the police, and reports being denied water.",
        "Un suspect interpellé au poste de contrôle de {site} a été retenu plus de 24 heures à la base "
        "opérationnelle de compagnie avant d'être remis à la police et déclare avoir été privé d'eau."}}}},
    {"loss_of_life",
     "violence",
     true,
     1,
     "other_rank",
     {{1,
       {"During a road move near {site}, a pedestrian was struck by a unit vehicle and died of the injuries "
        "at the district hospital.",
        "Lors d'un déplacement près de {site}, un piéton a été percuté par un véhicule de l'unité et a "
        "succombé à ses blessures à l'hôpital de district."}}}},
    {"sexual_harassment",
     "prohibited_conduct",
     true,
     3,
     "nco junior_officer",
     {{1,
       {"A female soldier reported repeated unwelcome comments and messages of a sexual nature from a "
        "superior in the unit.",
        "Une militaire a signalé des commentaires et des messages répétés à caractère sexuel, non désirés, "
        "de la part d'un supérieur de l'unité."}}}},
    {"harassment",
     "prohibited_conduct",
     false,
     3,
     "nco junior_officer",
     {{1,
       {"Several junior soldiers reported being humiliated in front of their platoon on several occasions by "
        "a non-commissioned officer.",
        "Plusieurs militaires du rang ont signalé avoir été humiliés à plusieurs reprises devant leur "
        "section par un sous-officier."}}}},
    {"abuse_of_authority",
     "prohibited_conduct",
     false,
     2,
     "senior_officer junior_officer",
     {{1,
       {"An officer allegedly used unit personnel and vehicles for private building work in {site}.",
        "Un officier aurait employé du personnel et des véhicules de l'unité pour des travaux de "
        "construction privés à {site}."}}}},
    {"discrimination",
     "prohibited_conduct",
     false,
     1,
     "junior_officer senior_officer",
     {{0,
       {"Personnel reported that leave and welfare flights were allocated by home region rather than by the "
        "duty roster.",
        "Des personnels ont signalé que les permissions et les vols de bien-être étaient attribués selon la "
        "région d'origine plutôt que selon le tableau de service."}}}},
    {"other",
     "other",
     false,
     2,
     "other_rank nco",
     {{1,
       {"Photographs of the defensive positions of the camp at {site} were posted on social media by a "
        "member of the unit.",
        "Des photographies des positions défensives du camp de {site} ont été publiées sur les réseaux "
        "sociaux par un membre de l'unité."}}}},
};

struct SeaType {
    const char* type;
    double weight;
    int perpetrators;       // as in IncidentText
    const char* ageGroups;  // most likely first
    Text description;
};
const std::vector<SeaType> kSeaTypes = {
    {"transactional_sex",
     30,
     1,
     "adult unknown child",
     {"An allegation was received that a member of the unit paid a person living near the company operating "
      "base in {site} for sex.",
      "Une allégation a été reçue selon laquelle un membre de l'unité aurait payé une personne vivant près "
      "de la base opérationnelle de compagnie de {site} pour des relations sexuelles."}},
    {"solicitation",
     15,
     0,
     "adult unknown",
     {"A partner organisation reported that personnel of the unit solicited transactional sex in a bar in "
      "{site} in exchange for money and food rations.",
      "Une organisation partenaire a signalé que des personnels de l'unité auraient sollicité des relations "
      "sexuelles transactionnelles dans un débit de boissons de {site} contre de l'argent et des rations."}},
    {"exploitative_relationship",
     30,
     1,
     "adult child unknown",
     {"It is alleged that a member of the unit had an exploitative relationship with a person living near "
      "the camp in {site} during the deployment, providing money and goods in return.",
      "Il est allégué qu'un membre de l'unité a entretenu une relation d'exploitation avec une personne "
      "vivant près du camp de {site} pendant le déploiement, en échange d'argent et de biens."}},
    {"sexual_assault",
     15,
     1,
     "adult child unknown",
     {"An allegation of sexual assault by a member of the unit near {site} was received from a partner "
      "organisation.",
      "Une allégation d'agression sexuelle commise près de {site} par un membre de l'unité a été transmise "
      "par une organisation partenaire."}},
    {"rape",
     10,
     1,
     "child adult unknown",
     {"An allegation of rape by a member of the unit was received through the hotline; the facts are said to "
      "have taken place near {site}.",
      "Une allégation de viol par un membre de l'unité a été reçue par la ligne d'urgence ; les faits se "
      "seraient produits près de {site}."}},
};
const Text kSeaChild = {"The person concerned is reported to have been under 18 at the time.",
                        "La personne concernée aurait eu moins de 18 ans au moment des faits."};
const Text kSeaPaternity = {"A paternity claim has been made.",
                            "Une demande de reconnaissance de paternité a été faite."};
const Text kSeaMeasures = {
    "The Conduct and Discipline Team was informed at once and the victim was referred to the victim "
    "assistance focal point. The alleged perpetrator was confined to base and removed from all duties "
    "involving contact with the population.",
    "L'équipe Conduite et discipline a été informée sans délai et la victime a été orientée vers le point "
    "focal pour l'assistance aux victimes. L'auteur présumé a été consigné au camp et retiré de toute "
    "fonction impliquant un contact avec la population."};
const std::vector<Text> kSeaNotes = {
    {"Consent to referral recorded by the Conduct and Discipline Team. The victim wishes to be contacted "
     "only through the partner organisation.",
     "Consentement à l'orientation recueilli par l'équipe Conduite et discipline. La victime souhaite être "
     "contactée uniquement par l'intermédiaire de l'organisation partenaire."},
    {"The victim assistance focal point follows up every month; no direct contact by the unit.",
     "Le point focal pour l'assistance aux victimes assure un suivi mensuel ; aucun contact direct de "
     "l'unité."},
    {"Interview by the investigators scheduled with a support person present.",
     "Audition par les enquêteurs prévue en présence d'une personne de soutien."},
};

struct ThematicText {
    const char* thematic;
    Text measures;
};
const std::vector<ThematicText> kMeasures = {
    {"rules",
     {"The personnel concerned were confined to base pending the preliminary assessment; the contingent "
      "commander was informed the same day.",
      "Les personnels concernés ont été consignés au camp dans l'attente de l'évaluation préliminaire ; le "
      "commandant du contingent a été informé le jour même."}},
    {"substances",
     {"The soldier was removed from guard duty and confined to base; the contingent commander ordered a "
      "preliminary investigation.",
      "Le militaire a été relevé de sa garde et consigné au camp ; le commandant du contingent a ordonné une "
      "enquête préliminaire."}},
    {"financial",
     {"Logs and stock records were secured; the contingent commander ordered an inventory of fuel and "
      "stores.",
      "Les registres et états de stock ont été mis sous scellés ; le commandant du contingent a ordonné un "
      "inventaire du carburant et des magasins."}},
    {"violence",
     {"The personnel concerned were removed from duties; the military police and the Conduct and Discipline "
      "Team were informed within 24 hours.",
      "Les personnels concernés ont été retirés de leurs fonctions ; la police militaire et l'équipe "
      "Conduite et discipline ont été informées dans les 24 heures."}},
    {"prohibited_conduct",
     {"The complainant was offered support and, at their request, moved to another platoon; the alleged "
      "perpetrator was removed from supervisory duties.",
      "La personne plaignante s'est vu proposer un soutien et, à sa demande, a été affectée à une autre "
      "section ; l'auteur présumé a été retiré de ses fonctions d'encadrement."}},
    {"other",
     {"The posts were removed at the unit's request; all personnel were reminded of the social media policy.",
      "Les publications ont été retirées à la demande de l'unité ; le règlement sur les réseaux sociaux a "
      "été rappelé à tout le personnel."}},
};

struct OutcomeText {
    const char* outcome;
    Text text;
};
const std::vector<OutcomeText> kOutcomeDetails = {
    {"substantiated",
     {"Allegation substantiated; the contributing country repatriated the personnel concerned on "
      "disciplinary grounds and barred them from future deployments.",
      "Allégation fondée ; le pays fournisseur a rapatrié les personnels concernés pour motif disciplinaire "
      "et les a exclus de tout déploiement futur."}},
    {"substantiated",
     {"Allegation substantiated; the contingent commander imposed a national disciplinary sanction of 14 "
      "days' confinement.",
      "Allégation fondée ; le commandant du contingent a prononcé une sanction disciplinaire nationale de 14 "
      "jours d'arrêts."}},
    {"unsubstantiated",
     {"The investigation did not substantiate the allegation; the case was closed and the complainant "
      "informed.",
      "L'enquête n'a pas établi l'allégation ; le dossier a été clos et la personne plaignante en a été "
      "informée."}},
    {"closed_without_investigation",
     {"Closed without investigation: the information received was not enough to identify the personnel "
      "concerned.",
      "Classé sans enquête : les informations reçues ne permettaient pas d'identifier les personnels "
      "concernés."}},
};

}  // namespace

// [SECTION] unit profiles
namespace {

struct EquipmentSpec {
    const char* category;
    Text description;
    int minQty, maxQty;  // for a unit of the reference strength of its type
};
struct EquipmentLine {
    std::string category;
    std::string description;
    int mouQty = 1;
};
struct Site {
    std::string name;
    double lat = 0, lon = 0;
    bool hasPosition = false;
};

// Major equipment of each unit type as an MOU lists it: a unit holds most of these lines.
const std::vector<std::pair<std::string, std::vector<EquipmentSpec>>> kEquipmentByType = {
    {"infantry_battalion",
     {{"apc_wheeled", {"BTR-80A wheeled APC", "VBTT BTR-80A à roues"}, 28, 40},
      {"apc_wheeled", {"Otokar Cobra II (4x4)", "Otokar Cobra II (4x4)"}, 28, 40},
      {"mine_protected_vehicle", {"RG-31 Nyala", "RG-31 Nyala"}, 6, 10},
      {"utility_vehicle", {"Toyota Land Cruiser 79 (4x4)", "Toyota Land Cruiser 79 (4x4)"}, 22, 32},
      {"cargo_truck", {"Tata LPTA 1623 (6x6)", "Tata LPTA 1623 (6x6)"}, 12, 18},
      {"tanker", {"Water tanker 10,000 l", "Camion-citerne à eau 10 000 l"}, 3, 5},
      {"tanker", {"Fuel tanker 12,000 l", "Camion-citerne à carburant 12 000 l"}, 2, 3},
      {"water_purification", {"Reverse-osmosis unit 4,000 l/h", "Unité d'osmose inverse 4 000 l/h"}, 2, 3},
      {"generator", {"Generator 100 kVA", "Groupe électrogène 100 kVA"}, 8, 14},
      {"ambulance", {"Land Cruiser ambulance (4x4)", "Ambulance Land Cruiser (4x4)"}, 3, 5},
      {"crew_served_weapons", {"12.7 mm heavy machine gun", "Mitrailleuse lourde 12,7 mm"}, 18, 30},
      {"crew_served_weapons", {"81 mm mortar", "Mortier de 81 mm"}, 6, 9},
      {"communications", {"HF/VHF vehicle radio", "Poste radio HF/VHF embarqué"}, 40, 60}}},
    {"quick_reaction_force",
     {{"apc_wheeled", {"Pandur II (8x8)", "Pandur II (8x8)"}, 8, 12},
      {"armoured_vehicle", {"Panhard VBL reconnaissance vehicle", "Véhicule blindé léger Panhard VBL"}, 4, 6},
      {"utility_vehicle", {"Toyota Land Cruiser 79 (4x4)", "Toyota Land Cruiser 79 (4x4)"}, 8, 12},
      {"cargo_truck", {"Mercedes-Benz Unimog (4x4)", "Mercedes-Benz Unimog (4x4)"}, 3, 5},
      {"uas", {"Hand-launched mini-UAS", "Mini-drone lancé à la main"}, 2, 4},
      {"generator", {"Generator 60 kVA", "Groupe électrogène 60 kVA"}, 3, 5},
      {"ambulance", {"Armoured ambulance", "Ambulance blindée"}, 1, 2},
      {"crew_served_weapons", {"7.62 mm general-purpose machine gun", "Mitrailleuse 7,62 mm"}, 6, 10}}},
    {"engineering_company",
     {{"engineering_plant", {"Caterpillar D6 bulldozer", "Bouteur Caterpillar D6"}, 2, 4},
      {"engineering_plant", {"Komatsu PC200 excavator", "Pelle hydraulique Komatsu PC200"}, 2, 4},
      {"engineering_plant", {"Caterpillar 140 motor grader", "Niveleuse Caterpillar 140"}, 2, 3},
      {"engineering_plant", {"Vibratory roller 10 t", "Compacteur vibrant 10 t"}, 1, 2},
      {"cargo_truck", {"Tipper truck 15 t (6x6)", "Camion benne 15 t (6x6)"}, 6, 10},
      {"utility_vehicle", {"Toyota Hilux (4x4)", "Toyota Hilux (4x4)"}, 8, 12},
      {"tanker", {"Water tanker 10,000 l", "Camion-citerne à eau 10 000 l"}, 2, 2},
      {"water_purification", {"Reverse-osmosis unit 4,000 l/h", "Unité d'osmose inverse 4 000 l/h"}, 1, 1},
      {"generator", {"Generator 100 kVA", "Groupe électrogène 100 kVA"}, 4, 6}}},
    {"level2_hospital",
     {{"medical_equipment", {"Digital X-ray unit", "Appareil de radiographie numérique"}, 1, 1},
      {"medical_equipment", {"Anaesthesia machine", "Appareil d'anesthésie"}, 2, 2},
      {"medical_equipment", {"Portable ultrasound scanner", "Échographe portable"}, 1, 2},
      {"medical_equipment", {"Patient monitor", "Moniteur de surveillance"}, 6, 10},
      {"ambulance", {"Land Cruiser ambulance (4x4)", "Ambulance Land Cruiser (4x4)"}, 3, 4},
      {"generator", {"Generator 100 kVA", "Groupe électrogène 100 kVA"}, 3, 4},
      {"utility_vehicle", {"Toyota Land Cruiser 79 (4x4)", "Toyota Land Cruiser 79 (4x4)"}, 3, 5},
      {"water_purification", {"Reverse-osmosis unit 2,000 l/h", "Unité d'osmose inverse 2 000 l/h"}, 1, 1}}},
    {"aviation_unit",
     {{"helicopter", {"Mi-17V-5 utility helicopter", "Hélicoptère de transport Mi-17V-5"}, 3, 4},
      {"tanker", {"Aviation fuel tanker 10,000 l", "Camion-citerne carburéacteur 10 000 l"}, 2, 3},
      {"utility_vehicle", {"Toyota Land Cruiser 79 (4x4)", "Toyota Land Cruiser 79 (4x4)"}, 6, 8},
      {"generator", {"Generator 60 kVA", "Groupe électrogène 60 kVA"}, 3, 5},
      {"cargo_truck", {"Hino 500 cargo truck (4x4)", "Camion Hino 500 (4x4)"}, 2, 3},
      {"communications", {"Ground-to-air VHF radio", "Radio VHF sol-air"}, 3, 4}}},
    {"signals_company",
     {{"communications", {"VSAT terminal", "Terminal VSAT"}, 4, 8},
      {"communications", {"HF/VHF vehicle radio", "Poste radio HF/VHF embarqué"}, 30, 50},
      {"communications", {"Tactical microwave link", "Faisceau hertzien tactique"}, 4, 6},
      {"utility_vehicle", {"Toyota Land Cruiser 79 (4x4)", "Toyota Land Cruiser 79 (4x4)"}, 10, 14},
      {"generator", {"Generator 30 kVA", "Groupe électrogène 30 kVA"}, 6, 10},
      {"cargo_truck", {"Hino 500 cargo truck (4x4)", "Camion Hino 500 (4x4)"}, 3, 4}}},
    {"logistics_company",
     {{"cargo_truck", {"Mercedes-Benz Actros (6x6)", "Mercedes-Benz Actros (6x6)"}, 20, 30},
      {"tanker", {"Fuel tanker 20,000 l", "Camion-citerne à carburant 20 000 l"}, 6, 10},
      {"utility_vehicle", {"Toyota Land Cruiser 79 (4x4)", "Toyota Land Cruiser 79 (4x4)"}, 10, 14},
      {"generator", {"Generator 100 kVA", "Groupe électrogène 100 kVA"}, 4, 6}}},
    {"fpu",
     {{"apc_wheeled", {"Otokar Cobra (4x4)", "Otokar Cobra (4x4)"}, 4, 6},
      {"utility_vehicle", {"Toyota Land Cruiser 79 (4x4)", "Toyota Land Cruiser 79 (4x4)"}, 10, 14},
      {"cargo_truck", {"Hino 500 cargo truck (4x4)", "Camion Hino 500 (4x4)"}, 2, 4},
      {"tanker", {"Water tanker 6,000 l", "Camion-citerne à eau 6 000 l"}, 1, 1},
      {"generator", {"Generator 60 kVA", "Groupe électrogène 60 kVA"}, 3, 4},
      {"ambulance", {"Land Cruiser ambulance (4x4)", "Ambulance Land Cruiser (4x4)"}, 1, 1},
      {"communications", {"VHF handheld radio", "Radio portative VHF"}, 15, 25}}},
};

// A typical authorised strength per unit type: MOU quantities scale with the unit's own strength.
int referenceStrength(const std::string& type) {
    if (type == "infantry_battalion") return 850;
    if (type == "quick_reaction_force") return 180;
    if (type == "engineering_company") return 205;
    if (type == "level2_hospital") return 70;
    if (type == "aviation_unit") return 120;
    if (type == "signals_company") return 130;
    if (type == "fpu") return 140;
    return 150;
}

// The share of women a contingent of this personnel category plausibly deploys (ranges around the
// DPO figures; some units reach the parity target, most do not yet).
std::pair<double, double> womenShareRange(const std::string& category) {
    if (category == "contingent_troops") return {0.03, 0.145};
    if (category == "staff_officers_observers") return {0.12, 0.30};
    if (category == "fpu") return {0.10, 0.30};
    if (category == "individual_police") return {0.18, 0.38};
    if (category == "justice_corrections") return {0.22, 0.42};
    return {0.05, 0.20};
}

bool patrols(const std::string& type) {
    return type == "infantry_battalion" || type == "quick_reaction_force" || type == "fpu" ||
           type == "military_observers" || type == "individual_police";
}

// A town's name for free text: "Bangui – Mission headquarters" and "Bouar (Sector West ...)" give the town.
std::string townName(std::string name) {
    for (const char* cut : {" – ", " (", " - "})
        if (auto p = name.find(cut); p != std::string::npos) name.erase(p);
    return name;
}

// A unit's code for case numbers: "MINUSCA-RWABATT-1" gives "RWABATT1" (the form's pattern allows 2-12).
std::string caseCode(const std::string& unitId, const std::string& mission) {
    std::string s = unitId;
    if (!mission.empty() && s.rfind(mission + "-", 0) == 0) s.erase(0, mission.size() + 1);
    std::string out;
    for (char c : s) {
        if (c >= 'a' && c <= 'z')
            out.push_back(static_cast<char>(c - 'a' + 'A'));
        else if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
            out.push_back(c);
    }
    if (out.size() > 12) out.resize(12);
    if (out.size() < 2) out = "UNIT" + out;
    return out;
}

std::string str(const json* row, const char* key) {
    if (!row) return {};
    auto it = row->find(key);
    return it != row->end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

struct DemoData::Unit {
    std::string id, type, category, country, mission, sector, code;
    std::string lang;                 // "fr" or "en": the language of the unit's free text
    std::string homeCode, homeOther;  // the language it trains in among itself
    int strength = 100;
    long long rotationStart = 0;
    double womenShare = 0.1;
    double standard = 0.5;  // 0 (struggling) .. 1 (exemplary)
    std::vector<EquipmentLine> equipment;
    std::vector<std::string> selfSustainment;
    std::vector<std::pair<const CaveatText*, bool>> caveats;  // with "declared before deployment"
    std::vector<std::string> tasks;
    std::vector<std::pair<std::string, std::string>> requirements;  // course id, due
    std::vector<std::string> extraCourses;
    std::vector<Site> sites;

    std::string say(const Text& t) const { return lang == "fr" ? t.fr : t.en; }
};

DemoData::DemoData(const core::ReferenceData& ref, std::uint64_t seed)
    : m_ref(ref), m_seed(seed), m_rng(seed) {}
DemoData::~DemoData() = default;
DemoData::DemoData(DemoData&&) noexcept = default;

std::vector<std::string> DemoData::unitIds() const {
    std::vector<std::string> out;
    for (const auto& u : m_ref.table("units"))
        if (u.contains("id") && u["id"].is_string()) out.push_back(u["id"]);
    return out;
}

const std::vector<std::string>& DemoData::formIds() {
    static const std::vector<std::string> kIds = {"readiness", "training", "training-gap", "incident"};
    return kIds;
}

const DemoData::Unit& DemoData::unit(const std::string& id) {
    if (auto it = m_units.find(id); it != m_units.end()) return *it->second;
    const json* row = m_ref.row("units", id);
    if (!row) throw std::invalid_argument("unknown unit '" + id + "'");
    Rng r(m_seed ^ fnv1a(id));
    auto u = std::make_unique<Unit>();
    u->id = id;
    u->type = str(row, "unit_type");
    u->category = str(row, "personnel_category");
    u->country = str(row, "country");
    u->mission = str(row, "mission");
    u->sector = str(row, "sector");
    u->code = caseCode(id, u->mission);
    if (auto s = row->find("authorised_strength"); s != row->end() && s->is_number_integer())
        u->strength = std::clamp(s->get<int>(), 1, 5000);
    std::string rot = str(row, "rotation_start");
    u->rotationStart = core::isValidDate(rot) ? dayOf(rot) : lastDay() - 200;

    bool missionFrench = false;
    if (const json* m = m_ref.row("missions", u->mission); m && m->contains("languages"))
        for (const auto& l : (*m)["languages"]) missionFrench = missionFrench || l == "fr";
    u->lang = missionFrench && kFrancophone.count(u->country) ? "fr" : "en";
    u->homeCode = u->lang;
    for (const auto& h : kHomeLanguages)
        if (u->country == h.country) {
            u->homeCode = h.code;
            u->homeOther = h.other;
        }

    auto [lo, hi] = womenShareRange(u->category);
    u->womenShare = real(r, lo, hi);
    u->standard = real(r, 0.0, 1.0);

    double scale = static_cast<double>(u->strength) / referenceStrength(u->type);
    for (const auto& [type, specs] : kEquipmentByType) {
        if (type != u->type) continue;
        // Two makes of APC are alternatives: a battalion fields one of them.
        std::vector<std::size_t> apcs;
        for (std::size_t i = 0; i < specs.size(); ++i)
            if (std::string(specs[i].category) == "apc_wheeled") apcs.push_back(i);
        const std::size_t apc = apcs.empty() ? specs.size() : pick(r, apcs);
        for (std::size_t i = 0; i < specs.size(); ++i) {
            const auto& s = specs[i];
            if (std::string(s.category) == "apc_wheeled" && i != apc) continue;
            // Larger tables of organisation: not every unit of the type holds every line.
            if (specs.size() > 6 && std::string(s.category) != "apc_wheeled" && chance(r, 0.35)) continue;
            EquipmentLine l;
            l.category = s.category;
            l.description = u->say(s.description);
            l.mouQty =
                std::clamp(static_cast<int>(std::lround(between(r, s.minQty, s.maxQty) * scale)), 1, 1000);
            u->equipment.push_back(std::move(l));
        }
    }
    if (!u->equipment.empty()) {
        for (const auto& s : m_ref.table("self_sustainment"))
            if (chance(r, 0.35)) u->selfSustainment.push_back(s.value("id", ""));
        if (u->selfSustainment.empty() && !m_ref.table("self_sustainment").empty())
            u->selfSustainment.push_back(m_ref.table("self_sustainment")[0].value("id", ""));
    }
    if (!u->equipment.empty()) {
        std::size_t n = weighted(r, {70, 25, 5});
        std::vector<const CaveatText*> pool;
        for (const auto& c : kCaveats) {
            // A unit that has no drones or no crowd-control role has no caveat about them.
            std::string t = c.type;
            if (t == "task" && u->type == "fpu") continue;
            if (t == "equipment" && u->type != "quick_reaction_force") continue;
            pool.push_back(&c);
        }
        for (std::size_t i = 0; i < n && !pool.empty(); ++i) {
            std::size_t k = below(r, pool.size());
            u->caveats.emplace_back(pool[k], chance(r, 0.8));
            pool.erase(pool.begin() + static_cast<long>(k));
        }
    }
    for (const auto& t : m_ref.table("standard_tasks"))
        if (t.contains("unit_types"))
            for (const auto& ut : t["unit_types"])
                if (ut == u->type) u->tasks.push_back(t.value("id", ""));
    for (const auto& q : m_ref.table("training_requirements"))
        if (q.value("unit_type", "") == u->type && m_ref.row("courses", q.value("course", "")))
            u->requirements.emplace_back(q.value("course", ""), q.value("due", ""));
    for (const auto& c : m_ref.table("courses")) {
        std::string kind = c.value("kind", "");
        if (kind != "stm" && kind != "induction") u->extraCourses.push_back(c.value("id", ""));
    }
    for (const auto& s : m_ref.table("sites")) {
        if (s.value("sector", "") != u->sector) continue;
        Site site;
        site.name = townName(core::ReferenceData::label(s.value("name", json()), u->lang));
        if (s.contains("lat") && s.contains("lon") && s["lat"].is_number() && s["lon"].is_number()) {
            site.lat = s["lat"];
            site.lon = s["lon"];
            site.hasPosition = true;
        }
        if (!site.name.empty()) u->sites.push_back(std::move(site));
    }
    if (u->sites.empty())
        u->sites.push_back(Site{u->lang == "fr" ? "la zone de déploiement" : "the deployment area"});
    return *m_units.emplace(id, std::move(u)).first->second;
}

json DemoData::next(const std::string& formId, const std::string& unitId) {
    if (formId == "readiness") {
        // A monthly report for a month between January 2025 and the last full month.
        long long last = dayOf(kLastPeriodEnd);
        long long months = 0;
        for (long long d = monthStart(last, 0); d > firstDay(); d = monthStart(d - 1, 0)) ++months;
        long long start =
            monthStart(last, static_cast<int>(below(m_rng, static_cast<std::uint64_t>(months) + 1)));
        long long end = monthStart(start + 40, 0) - 1;
        return readiness(unitId, isoDate(end));
    }
    if (formId == "training") return training(unitId);
    if (formId == "training-gap") return trainingGap(unitId);
    if (formId == "incident") return incident(unitId, chance(m_rng, 1.0 / 12.0));
    throw std::invalid_argument("no demo data for form '" + formId +
                                "' (readiness, training, training-gap, incident)");
}

// [SECTION] readiness
json DemoData::readiness(const std::string& unitId, const std::string& periodEnd) {
    const Unit& u = unit(unitId);
    Rng& r = m_rng;
    const long long end = dayOf(periodEnd);
    const std::string& lang = u.lang;
    const Site& site = pick(r, u.sites);
    json p = json::object();
    p["unit"] = u.id;

    std::string type;
    if (u.type == "fpu")
        type = std::vector<std::string>{"fpu_paer", "monthly_self_assessment",
                                        "aav_follow_up"}[weighted(r, {40, 50, 10})];
    else
        type = std::vector<std::string>{"monthly_self_assessment", "commander_evaluation",
                                        "aav_follow_up"}[weighted(r, {75, 20, 5})];
    p["report_type"] = type;
    int months = type == "commander_evaluation" || type == "fpu_paer" ? (chance(r, 0.7) ? 3 : 6) : 1;
    auto startFor = [&](int m) { return isMonthEnd(end) ? monthStart(end, m - 1) : end - 30LL * m + 1; };
    // An evaluation early in 2025 covers fewer months rather than reach back into 2024.
    while (months > 1 && startFor(months) < firstDay() && end >= firstDay()) months = months == 6 ? 3 : 1;
    const long long start = startFor(months);
    p["period_start"] = isoDate(start);
    p["period_end"] = isoDate(end);
    std::string sectorName;
    if (const json* s = m_ref.row("sectors", u.sector))
        sectorName = core::ReferenceData::label(s->value("name", json()), lang);
    if (type == "monthly_self_assessment")
        p["assessor"] = lang == "fr" ? "Commandant du contingent" : "Contingent commander";
    else if (type == "fpu_paer")
        p["assessor"] = lang == "fr" ? "Chef de la composante Police" : "Police Commissioner";
    else if (type == "aav_follow_up")
        p["assessor"] = lang == "fr" ? "Équipe d'évaluation et de conseil (Bureau des affaires militaires)"
                                     : "Assessment and advisory visit team (Office of Military Affairs)";
    else if (sectorName.rfind("Sector ", 0) == 0)
        p["assessor"] = sectorName + " Commander";
    else if (sectorName.rfind("Secteur ", 0) == 0)
        p["assessor"] = "Commandant du s" + sectorName.substr(1);  // "Commandant du secteur Ouest"
    else
        p["assessor"] = lang == "fr" ? "Commandant de la Force" : "Force Commander";

    // Strength: authorised from the MOU, deployed a little under it, present less leave and evacuations.
    const int auth = u.strength;
    const double share = std::clamp(u.womenShare * real(r, 0.9, 1.1), 0.0, 1.0);
    int authWomen =
        std::clamp(static_cast<int>(std::lround(auth * u.womenShare * real(r, 1.0, 1.15))), 0, auth);
    p["authorised_men"] = auth - authWomen;
    p["authorised_women"] = authWomen;
    int deployed = std::max(1, auth - between(r, 0, std::max(0, auth * 3 / 100)));
    int depWomen = std::clamp(static_cast<int>(std::lround(deployed * share)), 0, deployed);
    int depMen = deployed - depWomen;
    p["deployed_men"] = depMen;
    p["deployed_women"] = depWomen;
    p["present_men"] = depMen - between(r, depMen / 100, depMen * 8 / 100);
    p["present_women"] = depWomen - between(r, 0, depWomen * 8 / 100);

    // Ratings on the unit scale: mostly "meets", better or worse with the unit's standard.
    auto rating = [&](bool mayBeUnobserved) {
        if (mayBeUnobserved && chance(r, 0.04)) return 0;
        double x = real(r, 0.0, 1.0);
        double up = 0.10 + 0.25 * u.standard, down = 0.22 - 0.17 * u.standard,
               bad = 0.04 - 0.035 * u.standard;
        if (x < bad) return 1;
        if (x < bad + down) return 2;
        if (x < bad + down + up) return 4;
        return 3;
    };
    p["rating_command_control"] = rating(false);
    p["rating_training"] = rating(true);
    p["rating_conduct_discipline"] = rating(false);
    p["rating_mandated_tasks"] = rating(false);
    p["rating_sustainment"] = rating(true);
    p["rating_medical_welfare"] = rating(true);
    p["rating_force_protection"] = rating(true);

    int planned = 0;
    if (patrols(u.type)) {
        if (u.type == "infantry_battalion")
            planned = between(r, 120, 260) * u.strength / 850;
        else if (u.type == "quick_reaction_force")
            planned = between(r, 20, 60);
        else if (u.type == "fpu")
            planned = between(r, 60, 150);
        else
            planned = between(r, 20, 60);
        planned = std::clamp(planned * months, 1, 5000);
    }
    int conducted = planned;
    if (planned > 0 && chance(r, 0.45 + 0.3 * (1 - u.standard)))
        conducted = planned - between(r, 1, std::max(1, planned * 12 / 100));
    p["patrols_planned"] = planned;
    p["patrols_conducted"] = conducted;
    if (planned > 0) p["patrols_unplanned"] = between(r, 0, std::max(1, planned * 8 / 100));
    if (conducted < planned) {
        int n = planned - conducted;
        std::string en = n == 1 ? "One patrol cancelled" : std::to_string(n) + " patrols cancelled";
        std::string fr = n == 1 ? "Une patrouille annulée" : std::to_string(n) + " patrouilles annulées";
        std::string c = lang == "fr" ? fr : en;
        std::string lc = c;
        if (!lc.empty() && lc[0] >= 'A' && lc[0] <= 'Z') lc[0] = static_cast<char>(lc[0] - 'A' + 'a');
        p["patrol_shortfall_reason"] =
            fill(u.say(pick(r, kShortfall)), {{"cancelled", c}, {"cancelled_lc", lc}, {"site", site.name}});
    }

    json tasks = json::array();
    if (!u.tasks.empty()) {
        std::vector<std::string> pool = u.tasks;
        int n = std::min<int>(static_cast<int>(pool.size()), between(r, 1, 3));
        for (int i = 0; i < n; ++i) {
            std::size_t k = below(r, pool.size());
            std::string task = pool[k];
            pool.erase(pool.begin() + static_cast<long>(k));
            json row = {{"task", task}};
            bool observed = chance(r, 0.85);
            row["observed"] = observed;
            if (observed) {
                row["rating"] = rating(false);
                Text ev = kTaskEvidenceDefault;
                for (const auto& t : kTaskEvidence)
                    if (task == t.task) ev = t.evidence;
                row["evidence"] = fill(
                    u.say(ev), {{"site", pick(r, u.sites).name}, {"km", std::to_string(between(r, 4, 25))}});
                if (chance(r, 0.3)) row["remarks"] = u.say(pick(r, kTaskRemarks));
            } else {
                row["remarks"] = u.say(kTaskNotObserved);
            }
            tasks.push_back(std::move(row));
        }
    }
    p["tasks"] = std::move(tasks);

    // Equipment: most lines at or near the MOU quantity; now and then one falls under the threshold.
    const double threshold = m_ref.threshold("coe_serviceability_pct").value_or(90.0);
    json equipment = json::array();
    for (const auto& l : u.equipment) {
        int present = l.mouQty;
        if (chance(r, 0.08)) present = std::max(0, l.mouQty - between(r, 1, std::max(1, l.mouQty / 8)));
        int fullOk = static_cast<int>(std::ceil(l.mouQty * threshold / 100.0 - 1e-9));
        int serviceable;
        if (chance(r, 0.06 + 0.08 * (1 - u.standard)) || present < fullOk)
            serviceable =
                std::min(present, static_cast<int>(std::floor(l.mouQty * real(r, 0.55, threshold / 100.0))));
        else
            serviceable = between(r, std::min(fullOk, present), present);
        serviceable = std::clamp(serviceable, 0, present);
        json row = {{"category", l.category},
                    {"description", l.description},
                    {"mou_qty", l.mouQty},
                    {"present", present},
                    {"serviceable", serviceable}};
        if (round1(serviceable * 100.0 / l.mouQty) < threshold)
            row["remarks"] = u.say(pick(r, kEquipmentRemarks));
        equipment.push_back(std::move(row));
    }
    p["equipment"] = std::move(equipment);

    json ss = json::array();
    for (const auto& c : u.selfSustainment) {
        std::size_t k = weighted(r, {78 + 10 * u.standard, 14, 3, 5});
        static const char* kRatings[] = {"meets", "partially", "not_met", "provided_by_un"};
        json row = {{"category", c}, {"rating", kRatings[k]}};
        if (k == 1 || k == 2) {
            Text t = pick(r, kSelfSustainmentRemarks);
            for (const auto& s : kSelfSustainmentSpecific)
                if (c == s.category && chance(r, 0.6)) t = s.text;
            row["remarks"] = u.say(t);
        }
        ss.push_back(std::move(row));
    }
    p["self_sustainment"] = std::move(ss);

    json caveats = json::array();
    for (const auto& [c, declared] : u.caveats)
        caveats.push_back({{"caveat_type", c->type},
                           {"declared", declared},
                           {"description", u.say(c->description)},
                           {"effect_on_tasks", fill(u.say(c->effect), {{"site", u.sites.front().name}})}});
    p["caveats"] = std::move(caveats);

    json improvements = json::array();
    int nImp = static_cast<int>(weighted(r, {45 + 30 * u.standard, 35, 15, 5}));
    std::vector<const ImprovementText*> pool;
    for (const auto& i : kImprovements) pool.push_back(&i);
    for (int i = 0; i < nImp && !pool.empty(); ++i) {
        std::size_t k = below(r, pool.size());
        const ImprovementText* it = pool[k];
        pool.erase(pool.begin() + static_cast<long>(k));
        long long due = std::min(end + between(r, -30, 120), std::max(end, lastPlannedDay()));
        std::string status;
        if (due < end)
            status = chance(r, 0.6) ? "done" : "overdue";
        else
            status = std::vector<std::string>{"open", "in_progress", "done"}[weighted(r, {40, 45, 15})];
        improvements.push_back({{"finding", u.say(it->finding)},
                                {"action", u.say(it->action)},
                                {"owner", it->owner},
                                {"due_date", isoDate(due)},
                                {"status", status}});
    }
    p["improvements"] = std::move(improvements);

    if (chance(r, 0.85)) {
        std::string remark;
        for (const auto& t : kCommanderRemarksByType)
            if (u.type == t.unitType && chance(r, 0.6)) {
                int n = 0, m = 0;
                if (u.type == "level2_hospital") {
                    n = between(r, 180, 420) * months;
                    m = between(r, 8, 30) * months;
                } else if (u.type == "aviation_unit") {
                    n = between(r, 90, 180) * months;
                    m = between(r, 2, 9) * months;
                } else if (u.type == "engineering_company") {
                    n = between(r, 15, 60) * months;
                    m = between(r, 1, 4) * months;
                } else if (u.type == "signals_company") {
                    n = between(r, 96, 99);
                } else {
                    m = between(r, 2, 8) * months;
                }
                remark = fill(u.say(t.text), {{"n", std::to_string(n)}, {"m", std::to_string(m)}});
            }
        if (remark.empty()) remark = u.say(pick(r, kCommanderRemarks));
        p["commander_remarks"] = remark;
    }
    return p;
}

// [SECTION] training
json DemoData::training(const std::string& unitId) {
    const Unit& u = unit(unitId);
    Rng& r = m_rng;
    json p = json::object();
    p["unit"] = u.id;

    std::string course, due;
    if (!u.requirements.empty() && (u.extraCourses.empty() || chance(r, 0.75))) {
        const auto& q = pick(r, u.requirements);
        course = q.first;
        due = q.second;
    } else if (!u.extraCourses.empty()) {
        course = pick(r, u.extraCourses);
    } else {
        const json& all = m_ref.table("courses");
        if (all.empty()) throw std::invalid_argument("the reference data has no courses");
        course = all[below(r, all.size())].value("id", "");
    }
    const json* courseRow = m_ref.row("courses", course);
    const std::string kind = str(courseRow, "kind");
    p["course"] = course;

    std::string sessionKind, deliveredBy;
    if (kind == "induction") {
        sessionKind = "induction";
        deliveredBy = chance(r, 0.8) ? "mission_training_centre" : "unit";
    } else if (due == "pre_deployment") {
        sessionKind = std::vector<std::string>{"pre_deployment_verification", "refresher",
                                               "mobile_training_team"}[weighted(r, {35, 40, 25})];
        if (sessionKind == "pre_deployment_verification")
            deliveredBy = chance(r, 0.7) ? "mission_training_centre" : "its";
        else if (sessionKind == "refresher")
            deliveredBy = chance(r, 0.6) ? "unit" : "mission_training_centre";
        else
            deliveredBy = chance(r, 0.6) ? "member_state_team" : "its";
    } else if (due == "induction_60_days") {
        sessionKind = chance(r, 0.6) ? "induction" : "in_mission";
        deliveredBy = chance(r, 0.75) ? "mission_training_centre" : "unit";
    } else if (due == "annual") {
        sessionKind = chance(r, 0.6) ? "refresher" : "in_mission";
        deliveredBy = chance(r, 0.6) ? "unit" : "mission_training_centre";
    } else {
        sessionKind = chance(r, 0.7) ? "in_mission" : "refresher";
        deliveredBy =
            std::vector<std::string>{"unit", "mission_training_centre", "its"}[weighted(r, {50, 40, 10})];
    }
    p["kind"] = sessionKind;
    p["delivered_by"] = deliveredBy;

    // Length and daily hours by the kind of course.
    struct Length {
        const char* kind;
        int minDays, maxDays, minHours, maxHours;  // hours per day
    };
    static const Length kLengths[] = {{"cptm", 1, 2, 3, 7},
                                      {"thematic", 1, 3, 4, 7},
                                      {"safety", 1, 4, 6, 8},
                                      {"induction", 3, 5, 6, 8},
                                      {"stm", 5, 15, 6, 8}};
    Length len = {"", 1, 3, 4, 7};
    for (const auto& l : kLengths)
        if (kind == l.kind) len = l;
    const int days = between(r, len.minDays, len.maxDays);
    const double perDay = between(r, len.minHours, len.maxHours);
    const long long last = lastDay() - days;
    long long start;
    if (sessionKind == "induction") {
        long long rot = u.rotationStart;
        while (rot + 55 > last) rot -= 365;  // this rotation has not reached induction yet: the one before
        start = std::clamp(rot + between(r, 2, 50), firstDay(), last);
    } else if (u.rotationStart + 14 < last && chance(r, 0.6)) {
        start = dayIn(r, std::max(firstDay(), u.rotationStart), last);
    } else {
        start = dayIn(r, firstDay(), last);
    }
    p["start_date"] = isoDate(start);
    p["end_date"] = isoDate(start + days - 1);
    double hours = days * perDay - (chance(r, 0.3) ? 0.5 * between(r, 1, 3) : 0.0);
    p["hours"] = std::max(1.0, hours);

    std::string language = u.lang;
    if (deliveredBy == "unit" && u.homeCode != u.lang && chance(r, 0.5)) language = u.homeCode;
    p["language"] = language;
    if (language == "other") p["language_other"] = u.homeOther.empty() ? "Sango" : u.homeOther;

    Text trainers;
    if ((course == "cptm_3_3" || course == "cptm_3_4" || course == "psea") && chance(r, 0.6))
        trainers = kTrainersConduct;
    else if (deliveredBy == "mission_training_centre")
        trainers = pick(r, kTrainersMissionCentre);
    else if (deliveredBy == "unit")
        trainers = pick(r, kTrainersUnit);
    else if (deliveredBy == "member_state_team")
        trainers = pick(r, kTrainersMemberState);
    else
        trainers = pick(r, kTrainersIts);
    if (chance(r, 0.9)) p["trainers"] = u.say(trainers);

    const Site& site = pick(r, u.sites);
    if (site.hasPosition && chance(r, 0.6)) {
        auto jitter = [&](double x) { return std::round((x + real(r, -0.01, 0.01)) * 10000.0) / 10000.0; };
        p["location"] = {{"lat", jitter(site.lat)}, {"lon", jitter(site.lon)}};
    }

    int total;
    if (u.strength < 40)
        total = between(r, std::max(1, u.strength / 2), u.strength);
    else if (kind == "induction" || sessionKind == "induction")
        total = between(r, 30, 220);
    else if (kind == "stm")
        total = between(r, 25, 150);
    else if (kind == "safety")
        total = between(r, 15, 60);
    else
        total = between(r, 20, 90);
    total = std::clamp(total, 1, std::min(u.strength, 1500));
    double womenShare = std::clamp(u.womenShare * real(r, 0.6, 1.6), 0.0, 1.0);
    if (course == "gender") womenShare = std::min(1.0, womenShare * 1.8);
    int women = std::clamp(static_cast<int>(std::lround(total * womenShare)), 0, total);
    p["attendees_men"] = total - women;
    p["attendees_women"] = women;

    std::string assessment;
    if (kind == "stm" || kind == "safety")
        assessment =
            std::vector<std::string>{"practical", "pre_post_test", "none"}[weighted(r, {70, 20, 10})];
    else if (kind == "induction")
        assessment = chance(r, 0.4) ? "pre_post_test" : "none";
    else
        assessment =
            std::vector<std::string>{"pre_post_test", "none", "practical"}[weighted(r, {60, 25, 15})];
    p["assessment"] = assessment;
    if (assessment != "none") p["passed"] = total - between(r, 0, total * 12 / 100);

    if (chance(r, 0.9)) {
        std::vector<std::string> parts;
        for (const auto& t : kTrainingRemarksByCourse)
            if (course == t.category && chance(r, 0.7))
                parts.push_back(fill(u.say(t.text), {{"site", site.name}}));
        if (assessment == "pre_post_test" && chance(r, 0.6))
            parts.push_back(fill(u.say(kTrainingRemarkTest), {{"pre", std::to_string(between(r, 45, 65))},
                                                              {"post", std::to_string(between(r, 75, 95))}}));
        if (parts.size() < 2 && chance(r, 0.7)) parts.push_back(u.say(pick(r, kTrainingRemarks)));
        if (chance(r, 0.5)) parts.push_back(u.say(pick(r, kTrainingFollowUp)));
        std::string remarks;
        for (const auto& s : parts) remarks += (remarks.empty() ? "" : " ") + s;
        if (!remarks.empty()) p["remarks"] = remarks;
    }
    return p;
}

// [SECTION] training gap
json DemoData::trainingGap(const std::string& unitId) {
    const Unit& u = unit(unitId);
    Rng& r = m_rng;
    json p = json::object();
    p["unit"] = u.id;

    std::string source = std::vector<std::string>{"evaluation", "aav", "needs_assessment",
                                                  "incident_follow_up"}[weighted(r, {35, 15, 35, 15})];
    p["source"] = source;
    const long long identified = dayIn(r, firstDay(), lastDay());
    p["identified_date"] = isoDate(identified);
    const int affected =
        std::clamp(between(r, std::max(1, u.strength / 50), std::max(1, u.strength * 35 / 100)), 1, 5000);
    p["personnel_affected"] = affected;

    std::string course;
    if (source == "incident_follow_up") {
        for (const char* c : {"cptm_3_4", "psea", "cptm_3_3"})
            if (course.empty() && m_ref.row("courses", c) && chance(r, 0.6)) course = c;
    }
    if (course.empty() && !u.requirements.empty() && chance(r, 0.8)) course = pick(r, u.requirements).first;
    std::string severity = std::vector<std::string>{"critical", "major", "minor"}[weighted(r, {15, 45, 40})];
    if (course == "cptm_3_4" || course == "psea") severity = chance(r, 0.5) ? "critical" : "major";
    p["severity"] = severity;
    if (!course.empty()) {
        const json* row = m_ref.row("courses", course);
        std::string title = core::ReferenceData::label(row->value("title", json()), u.lang);
        title = u.lang == "fr" ? "« " + title + " »" : "“" + title + "”";
        std::string name = str(row, "code").empty() ? title : str(row, "code") + " " + title;
        p["course"] = course;
        p["description"] =
            fill(u.say(pick(r, kGapWithCourse)), {{"n", std::to_string(affected)}, {"course", name}});
    } else {
        p["description"] = u.say(pick(r, kGapWithoutCourse));
    }
    if (chance(r, 0.7)) p["cause"] = u.say(pick(r, kGapCauses));
    p["remedy"] = std::vector<std::string>{"in_mission_course", "mobile_training_team",
                                           "light_coordination_mechanism"}[weighted(r, {60, 30, 10})];
    p["target_date"] = isoDate(std::min(identified + between(r, 30, 150), lastPlannedDay()));

    // Older gaps are more often closed.
    const long long age = lastDay() - identified;
    std::size_t k = age > 120  ? weighted(r, {15, 20, 65})
                    : age > 45 ? weighted(r, {25, 45, 30})
                               : weighted(r, {60, 35, 5});
    if (k == 2 && age < 14) k = 1;
    static const char* kStatus[] = {"open", "in_progress", "closed"};
    p["status"] = kStatus[k];
    if (k == 2) {
        p["closed_date"] =
            isoDate(identified + between(r, 14, static_cast<int>(std::min<long long>(age, 150))));
        if (chance(r, 0.6)) p["remarks"] = u.say(kGapClosedRemark);
    } else if (chance(r, 0.5)) {
        p["remarks"] = u.say(pick(r, kGapRemarks));
    }
    return p;
}

// [SECTION] incident
json DemoData::incident(const std::string& unitId, bool sea) {
    const Unit& u = unit(unitId);
    Rng& r = m_rng;
    json p = json::object();
    p["unit"] = u.id;
    const Site& site = pick(r, u.sites);

    const IncidentType* it = nullptr;
    const SeaType* st = nullptr;
    if (sea) {
        double total = 0;
        for (const auto& s : kSeaTypes) total += s.weight;
        double x = real(r, 0.0, total);
        for (const auto& s : kSeaTypes) {
            if (!st && x < s.weight) st = &s;
            x -= s.weight;
        }
        if (!st) st = &kSeaTypes.back();
    } else {
        double total = 0;
        for (const auto& t : kIncidentTypes) total += t.weight;
        double x = real(r, 0.0, total);
        for (const auto& t : kIncidentTypes) {
            if (!it && x < t.weight) it = &t;
            x -= t.weight;
        }
        if (!it) it = &kIncidentTypes.back();
    }

    // SEA allegations often come months after the facts, with only the period known.
    long long received, happened;
    bool approximate = false;
    if (sea) {
        received = dayIn(r, firstDay() + 60, lastDay());
        happened = received - between(r, 3, 200);
        approximate = chance(r, 0.5);
    } else {
        received = dayIn(r, firstDay() + 10, lastDay());
        happened = received - between(r, 0, 6);
        approximate = chance(r, 0.03);
    }
    happened = std::max(happened, firstDay());
    int year = yearOf(received);
    int& number = m_caseNumbers[u.code + "-" + std::to_string(year)];
    ++number;
    char ref[64];
    std::snprintf(ref, sizeof ref, "%s-CD-%d-%03d", u.code.c_str(), year, number);
    p["local_reference"] = ref;
    p["sector"] = u.sector;
    p["date_received"] = isoDate(received);
    p["incident_date"] = isoDate(happened);
    if (approximate || chance(r, 0.3)) p["incident_date_approximate"] = approximate;

    std::string channel;
    if (sea)
        channel = std::vector<std::string>{"community_network", "un_or_ngo_partner", "hotline", "cdt",
                                           "chain_of_command"}[weighted(r, {35, 25, 15, 15, 10})];
    else if (it->type == std::string("corruption") || it->type == std::string("loss_of_life") ||
             it->type == std::string("assault"))
        channel = std::vector<std::string>{"chain_of_command", "host_authorities", "community_network",
                                           "cdt"}[weighted(r, {40, 25, 20, 15})];
    else
        channel = std::vector<std::string>{"chain_of_command", "cdt", "hotline",
                                           "other"}[weighted(r, {80, 10, 7, 3})];
    p["reporting_channel"] = channel;

    const bool serious = sea || it->serious;
    p["category"] = serious ? "serious_misconduct" : "misconduct";
    p["thematic_area"] = sea ? "sea" : it->thematic;
    p["incident_type"] = sea ? "sea" : it->type;

    std::string ageGroup;
    std::string description;
    int said = sea ? st->perpetrators : 0;
    if (sea) {
        std::string groups = st->ageGroups;
        std::vector<std::string> g;
        for (std::size_t a = 0, b; a < groups.size(); a = b + 1) {
            b = groups.find(' ', a);
            if (b == std::string::npos) b = groups.size();
            g.push_back(groups.substr(a, b - a));
        }
        ageGroup = g[weighted(r, {70, 20, 10}) % g.size()];
        description = fill(u.say(st->description), {{"site", site.name}});
        if (ageGroup == "child") description += " " + u.say(kSeaChild);
    } else {
        const IncidentText& t = pick(r, it->descriptions);
        description = fill(u.say(t.text), {{"site", site.name}});
        said = t.perpetrators;
    }
    const bool paternity = sea && std::string(st->type) == "exploitative_relationship" && chance(r, 0.3);
    if (paternity) description += " " + u.say(kSeaPaternity);
    p["description"] = description;

    // Alleged perpetrators: described by category, unit, country and rank only.
    json perps = json::array();
    const int nPerp = said > 0 ? said : static_cast<int>(weighted(r, {60, 30, 10})) + 1;
    std::vector<std::string> ranks;
    {
        std::string s = sea ? "other_rank nco junior_officer unknown" : it->ranks;
        for (std::size_t a = 0, b; a < s.size(); a = b + 1) {
            b = s.find(' ', a);
            if (b == std::string::npos) b = s.size();
            ranks.push_back(s.substr(a, b - a));
        }
    }
    // The unit's own category, unless the reference data does not list it (then the first listed).
    std::string category = u.category;
    const json& categories = m_ref.choiceList("personnel_categories");
    bool categoryKnown = false;
    for (const auto& c : categories) categoryKnown = categoryKnown || c.value("value", "") == u.category;
    if (!categoryKnown && !categories.empty()) category = categories[0].value("value", "");
    for (int i = 0; i < nPerp; ++i) {
        json row = json::object();
        row["personnel_category"] = category;
        if (!sea || chance(r, 0.75)) {
            row["alleged_unit"] = u.id;
            row["country"] = u.country;
        }
        std::size_t k = ranks.size() == 1 ? 0 : weighted(r, {60, 25, 10, 5}) % ranks.size();
        row["rank_band"] = ranks[k];
        perps.push_back(std::move(row));
    }
    p["perpetrators"] = std::move(perps);

    Text measures = kSeaMeasures;
    if (!sea)
        for (const auto& m : kMeasures)
            if (std::string(it->thematic) == m.thematic) measures = m.measures;
    p["immediate_measures"] = u.say(measures);

    // The Conduct and Discipline Team hears of it the same day or the next, in local time (UTC+1).
    {
        long long notified = received + (chance(r, 0.7) ? 0 : 1);
        char dt[40];
        std::snprintf(dt, sizeof dt, "%sT%02d:%02d:00+01:00", isoDate(std::min(notified, lastDay())).c_str(),
                      between(r, 7, 19), between(r, 0, 11) * 5);
        p["cdt_notified_at"] = dt;
    }

    json referral = json::array();
    const bool police = u.category == "fpu" || u.category == "individual_police";
    if (serious) {
        if (u.category == "contingent_troops") {
            referral.push_back("oios");
            if (chance(r, 0.7)) referral.push_back("nio");
        } else {
            referral.push_back("oios");
            if (police && chance(r, 0.4)) referral.push_back("un_police");
        }
    } else {
        referral.push_back("contingent_commander");
        if (!police && chance(r, 0.4)) referral.push_back("military_police");
    }
    p["referral"] = std::move(referral);

    // How far the case has gone depends on its age.
    const long long age = lastDay() - received;
    std::string status;
    if (age < 10)
        status = std::vector<std::string>{"not_started", "preliminary_assessment"}[weighted(r, {40, 60})];
    else if (age < 60)
        status = std::vector<std::string>{
            "preliminary_assessment", "member_state_notified", "under_investigation",
            "investigation_completed"}[weighted(r, {25, serious ? 35.0 : 5.0, 30, 10})];
    else
        status = std::vector<std::string>{
            "under_investigation", "investigation_completed",
            "closed"}[weighted(r, {serious ? 35.0 : 10.0, 25, serious ? 40.0 : 65.0})];
    p["investigation_status"] = status;

    json interim = json::array();
    if (sea || (serious && chance(r, 0.7))) {
        interim.push_back("removed_from_duties");
        interim.push_back("confined_to_base");
        if (sea && chance(r, 0.5)) interim.push_back("payments_suspended");
    } else if (chance(r, 0.5)) {
        interim.push_back("confined_to_base");
    } else {
        interim.push_back("none");
    }
    p["interim_actions"] = std::move(interim);

    std::string outcome = "pending";
    if (status == "investigation_completed" || status == "closed") {
        outcome = std::vector<std::string>{
            "substantiated", "unsubstantiated",
            "closed_without_investigation"}[weighted(r, {60, 30, status == "closed" ? 10.0 : 0.0})];
    }
    if (outcome != "pending" || chance(r, 0.7)) p["outcome"] = outcome;
    if (outcome != "pending") {
        std::vector<const OutcomeText*> fits;
        for (const auto& o : kOutcomeDetails)
            if (outcome == o.outcome) fits.push_back(&o);
        // A national sanction of 14 days fits a minor case; repatriation a serious one.
        const OutcomeText* o = fits.size() > 1 ? fits[serious ? 0 : 1] : fits[0];
        p["outcome_details"] = u.say(o->text);
    }

    if (sea) {
        char victimRef[32];
        std::snprintf(victimRef, sizeof victimRef, "CDT-%02d-%04d", year % 100, between(r, 1, 400));
        p["victim_reference"] = victimRef;
        p["sea_type"] = st->type;
        p["victims_count"] = static_cast<int>(weighted(r, {85, 10, 5})) + 1;
        p["victim_age_group"] = ageGroup;
        p["paternity_claim"] = paternity;
        bool consent = chance(r, 0.9);
        p["consent_recorded"] = consent;
        json assistance = json::array();
        if (consent) {
            assistance.push_back("medical");
            assistance.push_back("psychosocial");
            if (chance(r, 0.4)) assistance.push_back("legal");
            if (chance(r, 0.3) || paternity) assistance.push_back("material");
            p["victim_assistance_date"] = isoDate(std::min(lastDay(), received + between(r, 0, 7)));
            p["victim_assistance"] = std::move(assistance);
        }
        if (chance(r, 0.6)) p["sea_notes"] = u.say(pick(r, kSeaNotes));
    }
    return p;
}

}  // namespace outpost::client
