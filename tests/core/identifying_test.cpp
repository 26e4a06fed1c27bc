// Tests for the victim-centred warnings: names, phone numbers and e-mail addresses in free text.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "core/identifying.hpp"

using outpost::core::identifyingHints;
using Hints = std::vector<std::string>;

namespace {
std::string name(const std::string& n) {
    return "looks like a person's name: '" + n + "'";
}
std::string phone(const std::string& p) {
    return "looks like a phone number: '" + p + "'";
}
std::string email(const std::string& e) {
    return "looks like an e-mail address: '" + e + "'";
}
}  // namespace

TEST_CASE("phone numbers are flagged", "[core][identifying]") {
    CHECK(identifyingHints("Contact: +236 72 12 34 56") == Hints{phone("+236 72 12 34 56")});
    CHECK(identifyingHints("call 0612345678 tonight") == Hints{phone("0612345678")});
    CHECK(identifyingHints("tel. 72-12-34-56.") == Hints{phone("72-12-34-56")});
    CHECK(identifyingHints("Tél : 72.12.34.56") == Hints{phone("72.12.34.56")});
    CHECK(identifyingHints("(072) 123 4567") == Hints{phone("(072) 123 4567")});
    CHECK(identifyingHints("+243 (0) 81 234 5678") == Hints{phone("+243 (0) 81 234 5678")});
    CHECK(identifyingHints("numbers 072 123 456 and 075 987 654") ==
          Hints{phone("072 123 456"), phone("075 987 654")});
}

TEST_CASE("numbers that are not phone numbers are not flagged", "[core][identifying]") {
    CHECK(identifyingHints("120 personnel") == Hints{});
    CHECK(identifyingHints("Patrol to Sector West on 2026-11-27") == Hints{});
    CHECK(identifyingHints("from 2026-11-27 to 2026-12-03") == Hints{});
    CHECK(identifyingHints("2026-11-27 14:05, 2026-11-28T09:00Z") == Hints{});
    CHECK(identifyingHints("le 27/11/2026 et le 28.11.2026") == Hints{});
    CHECK(identifyingHints("1234567 is seven digits") == Hints{});
    CHECK(identifyingHints("strength 120 - 130 - 140 - 150") == Hints{});
    CHECK(identifyingHints("cost 12 500 000 FCFA, 1.250.000 FCFA") == Hints{});
    CHECK(identifyingHints("at 4.36125 18.55501") == Hints{});
    CHECK(identifyingHints("grid 34N BK 28633 82493 and 34NBK2863382493") == Hints{});
    CHECK(identifyingHints("vehicle UN-12345678X") == Hints{});
    CHECK(identifyingHints("12:30 to 14:45, 3 x 4 x 5") == Hints{});
}

TEST_CASE("names are flagged (English)", "[core][identifying]") {
    CHECK(identifyingHints("The victim, Marie Dupont, was referred.") == Hints{name("Marie Dupont")});
    CHECK(identifyingHints("Spoke with Mr Smith at the gate") == Hints{name("Mr Smith")});
    CHECK(identifyingHints("Spoke with Mr. John Smith") == Hints{name("Mr. John Smith")});
    CHECK(identifyingHints("referred by Dr Amina Yusuf") == Hints{name("Dr Amina Yusuf")});
    CHECK(identifyingHints("Her name is Aminata.") == Hints{name("Aminata")});
    CHECK(identifyingHints("a girl named Grace") == Hints{name("Grace")});
    CHECK(identifyingHints("Marie Dupont reported the incident") == Hints{name("Marie Dupont")});
    CHECK(identifyingHints("interviewed Jean DUPONT at the camp") == Hints{name("Jean DUPONT")});
    CHECK(identifyingHints("The Jean-Pierre Bemba case") == Hints{name("Jean-Pierre Bemba")});
}

TEST_CASE("names are flagged (French)", "[core][identifying]") {
    CHECK(identifyingHints("Mme Ngaba a été entendue") == Hints{name("Mme Ngaba")});
    CHECK(identifyingHints("M. Dupont est arrivé") == Hints{name("M. Dupont")});
    CHECK(identifyingHints("Mlle Kossi et Madame Béatrice Yakité") ==
          Hints{name("Mlle Kossi"), name("Madame Béatrice Yakité")});
    CHECK(identifyingHints("entendu par monsieur Zaoro") == Hints{name("monsieur Zaoro")});
    CHECK(identifyingHints("La victime s'appelle Aminata.") == Hints{name("Aminata")});
    CHECK(identifyingHints("la victime s’appelle Aïcha Touré") == Hints{name("Aïcha Touré")});
    CHECK(identifyingHints("une femme nommée Clarisse") == Hints{name("Clarisse")});
    CHECK(identifyingHints("Selon Élodie Mbaïkoua, le camp") == Hints{name("Élodie Mbaïkoua")});
}

TEST_CASE("e-mail addresses are flagged", "[core][identifying]") {
    CHECK(identifyingHints("write to m.dupont@example.org.") == Hints{email("m.dupont@example.org")});
    CHECK(identifyingHints("contact: jean_12345678@mail.cf") == Hints{email("jean_12345678@mail.cf")});
    CHECK(identifyingHints("meet @ the gate") == Hints{});
    CHECK(identifyingHints("user@localhost") == Hints{});
}

TEST_CASE("several kinds are reported in order, each once", "[core][identifying]") {
    CHECK(identifyingHints("Mme Ngaba (+236 72 12 34 56, ngaba@example.org) called; Mme Ngaba again") ==
          Hints{name("Mme Ngaba"), phone("+236 72 12 34 56"), email("ngaba@example.org")});
}

TEST_CASE("ordinary report sentences are not flagged", "[core][identifying]") {
    const char* sentences[] = {
        "Patrol to Sector West on 2026-11-27",
        "Referred to OIOS and the NIO",
        "120 personnel",
        "",
        "The patrol left Camp Kassai at 0600 and returned at 1400.",
        "MINUSCA Force HQ was informed. The Team Site at Bria reported no incident.",
        "Joint patrol with UN Police and the Rwandan Battalion to Sector East.",
        "La patrouille du Bataillon a quitté le Camp Ouest le lundi 27 novembre.",
        "L'équipe a signalé l'incident à la Police de la MINUSCA.",
        "On Monday the Quick Reaction Force deployed to the Site.",
        "The allegation was referred to the Conduct and Discipline Team on 27/11/2026.",
        "ÉVACUATION SANITAIRE DE NIVEAU II VERS BANGUI",
        "Des civils ont été vus près du Marché Central.",
        "Level II Hospital; Engineering Company; Signals Platoon",
        "Generator serviceable: 12 of 14. Fuel: 1 200 litres.",
        "Checkpoint at 34N BK 28633 82493 was manned.",
    };
    for (const char* s : sentences) {
        INFO(s);
        CHECK(identifyingHints(s) == Hints{});
    }
}

TEST_CASE("'name is' needs a capitalised word after it", "[core][identifying]") {
    CHECK(identifyingHints("the victim's name is withheld") == Hints{});
    CHECK(identifyingHints("a vehicle named after the river") == Hints{});
    CHECK(identifyingHints("Sector M. The patrol") == Hints{});
}

TEST_CASE("invalid UTF-8 does not break the scan", "[core][identifying]") {
    CHECK(identifyingHints("Marie\xFF Dupont") == Hints{});
    CHECK(identifyingHints("\xC3 Mme Ngaba \xE2\x80") == Hints{name("Mme Ngaba")});
}
