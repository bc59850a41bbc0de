#include "model/calibration.h"

namespace crossrank {

const std::vector<std::pair<std::string, std::string>>& calibration_pairs() {
  static const std::vector<std::pair<std::string, std::string>> pairs = {
      {"how do plants make their food",
       "Photosynthesis is the process by which green plants, algae and some bacteria convert light energy into "
       "chemical energy. Chlorophyll in the chloroplasts absorbs mostly red and blue light; water is split, oxygen "
       "is released, and carbon dioxide is fixed into sugars by the Calvin cycle."},
      {"what causes the seasons on earth",
       "The seasons are caused by the tilt of the Earth's rotational axis, about 23.4 degrees relative to its orbital "
       "plane. When the Northern Hemisphere leans toward the Sun it receives more direct sunlight and longer days, "
       "which is summer there, while the Southern Hemisphere has winter."},
      {"who wrote the theory of general relativity",
       "Albert Einstein published the general theory of relativity in 1915. It describes gravity not as a force but "
       "as the curvature of spacetime by mass and energy, and it predicted the bending of starlight, later confirmed "
       "during the solar eclipse of 1919."},
      {"symptoms of vitamin d deficiency",
       "Vitamin D deficiency may cause fatigue, bone pain, muscle weakness and, in children, rickets. The vitamin is "
       "made in the skin under ultraviolet B light and found in oily fish, egg yolks and fortified foods; a blood test "
       "for 25-hydroxyvitamin D confirms the diagnosis."},
      {"how does a hash table work",
       "A hash table stores key-value pairs in an array of buckets. A hash function maps each key to a bucket index; "
       "collisions are resolved by chaining or open addressing. With a good hash and a load factor below about 0.75, "
       "lookups, inserts and deletes take O(1) time on average."},
      {"when did the roman empire fall",
       "The Western Roman Empire ended in 476 AD when the Germanic leader Odoacer deposed Romulus Augustulus. The "
       "Eastern Roman Empire, known as the Byzantine Empire, survived until the Ottoman conquest of Constantinople in "
       "1453."},
      {"what is the interest rate on a fixed mortgage",
       "A fixed-rate mortgage keeps the same interest rate for the whole term, typically 15 or 30 years, so monthly "
       "payments of principal and interest do not change. Rates depend on the borrower's credit score, the down "
       "payment and market yields on government bonds."},
      {"best way to store fresh basil",
       "Fresh basil keeps best at room temperature: trim the stems and stand them in a glass of water like cut "
       "flowers, loosely covered with a plastic bag. In the refrigerator the leaves blacken within a day or two."},
      {"what is the capital of australia",
       "Canberra is the capital city of Australia. It was chosen in 1908 as a compromise between Sydney and "
       "Melbourne, the two largest cities, and Parliament first sat there in 1927."},
      {"how many players are on a football team",
       "An association football team has eleven players on the field, including the goalkeeper. Competitive matches "
       "allow a limited number of substitutes, and a match is played in two halves of 45 minutes."},
      {"什么是量子计算",
       "量子计算是一种利用量子力学原理进行信息处理的计算方式。量子比特可以处于叠加态，并且可以相互纠缠，因此某些问题，"
       "例如大整数分解和量子系统模拟，可能比经典计算机快得多。"},
      {"长城有多长",
       "根据2012年公布的测量结果，明长城总长约8851公里，历代长城总长度约为21196公里。长城始建于春秋战国时期，"
       "秦朝统一后连接成为万里长城。"},
      {"quelle est la hauteur de la tour eiffel",
       "La tour Eiffel mesure environ 330 mètres avec ses antennes. Construite par Gustave Eiffel pour l'Exposition "
       "universelle de 1889, elle fut la plus haute structure du monde jusqu'en 1930."},
      {"wie funktioniert eine wärmepumpe",
       "Eine Wärmepumpe entzieht der Umgebung, etwa der Luft, dem Erdreich oder dem Grundwasser, Wärme und hebt sie "
       "mit Hilfe eines Kältemittels und eines Verdichters auf ein höheres Temperaturniveau, mit dem ein Gebäude "
       "beheizt werden kann."},
      {"¿cuál es el río más largo del mundo?",
       "El Nilo y el Amazonas compiten por el título del río más largo del mundo. Según la medición, el Nilo mide "
       "unos 6650 kilómetros y el Amazonas entre 6400 y 7000 kilómetros."},
      {"what does the error 404 mean",
       "HTTP 404 Not Found means the server could not find the requested resource. The link may be broken, the page "
       "may have moved without a redirect, or the URL may have been mistyped; the server itself is reachable."},
  };
  return pairs;
}

}  // namespace crossrank
