# ruff: noqa: RUF001 - names in Cyrillic and Greek letters are the point of this file
"""Synthetic name material for the lookup bench: small per-locale lists and the national transliteration
conventions the variants are made with. Invented for the bench (common names of each language); no person.

Each locale: male given names, female given names, family names (a female form where the language has one:
``"Kowalski/Kowalska"``). Cyrillic and Greek lists are in their own script; the Arabic-origin list is in
Latin, each name a group of the spellings met in European registers (``|``-separated, first is recorded;
``_`` stands for a space inside a name).
"""

from __future__ import annotations

LOCALES: dict[str, tuple[str, str, str]] = {
    "DE": (
        "Lukas Jonas Leon Finn Paul Felix Maximilian Elias Noah Ben Tim Jan Niklas Moritz Julian Philipp David "
        "Alexander Tobias Florian Sebastian Stefan Thomas Michael Andreas Jürgen Klaus Uwe Dieter Wolfgang Günter "
        "Horst Matthias Björn Sören Kai Jörg Rüdiger Torsten Markus",
        "Anna Lena Lea Hannah Mia Emma Sophie Marie Laura Julia Lara Lisa Katharina Sarah Johanna Clara Charlotte "
        "Paula Greta Ida Jana Nina Sabine Petra Monika Ursula Gisela Renate Brigitte Jutta Bärbel Gudrun Dörte "
        "Heike Silke Anke Birgit Susanne Claudia Käthe",
        "Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Schäfer Koch Bauer Richter "
        "Klein Wolf Schröder Neumann Schwarz Zimmermann Braun Krüger Hofmann Hartmann Lange Schmitt Werner "
        "Schmitz Krause Meier Lehmann Schmid Schulze Maier Köhler Herrmann König Walter Mayer Huber Kaiser Fuchs "
        "Peters Lang Scholz Möller Weiß Jung Hahn Schubert Vogel Friedrich Keller Günther Frank Berger Winkler "
        "Roth Beck Lorenz Baumann Franke Albrecht Schuster Simon Ludwig Böhm Winter Kraus Martin Schumacher "
        "Krämer Vogt Stein Jäger Otto Sommer Groß Seidel Heinrich Brandt Haas Schreiber Graf Schulte Dietrich",
    ),
    "FR": (
        "Jean Pierre Michel André Philippe René Louis Alain Jacques Bernard Marcel Daniel Roger Robert Paul Claude "
        "Christian Henri Georges Nicolas François Patrick Gérard Christophe Joseph Julien Antoine Mathieu Sébastien "
        "Frédéric Olivier Éric Stéphane Jérôme Benoît Thierry Hervé Loïc Gaël Cédric Aurélien",
        "Marie Jeanne Françoise Monique Catherine Nathalie Isabelle Jacqueline Anne Sylvie Martine Nicole Suzanne "
        "Christine Hélène Valérie Sandrine Céline Sophie Émilie Aurélie Chloé Léa Manon Camille Océane Inès Zoé "
        "Mélanie Élodie Gaëlle Agnès Béatrice Geneviève Thérèse Josiane Solène Maëlle Noémie Clémence",
        "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent Lefèbvre Michel "
        "Garcia David Bertrand Roux Vincent Fournier Morel Girard André Lefèvre Mercier Dupont Lambert Bonnet "
        "François Martinez Legrand Garnier Faure Rousseau Blanc Guérin Muller Henry Roussel Nicolas Perrin "
        "Morin Mathieu Clément Gauthier Dumont Lopez Fontaine Chevalier Robin Masson Sanchez Gérard Nguyen "
        "Boyer Denis Lemaire Duval Joly Gautier Roger Roche Roy Noël Meyer Lucas Meunier Jean Pérez Marchand "
        "Dufour Blanchard Marie Barbier Brun Dumas Brunet Schmitt Leroux Colin Fernandez Pierre Renard Arnaud "
        "Rolland Caron Aubert Giraud Leclerc Vidal Bourgeois Renaud Lemoine Picard Gaillard Philippe Leclercq",
    ),
    "PL": (
        "Jan Andrzej Piotr Krzysztof Stanisław Tomasz Paweł Józef Marcin Marek Michał Grzegorz Jerzy Tadeusz Adam "
        "Łukasz Zbigniew Ryszard Dariusz Henryk Mariusz Kazimierz Wojciech Robert Mateusz Marian Rafał Jacek "
        "Janusz Mirosław Maciej Sławomir Jarosław Kamil Wiesław Roman Władysław Jakub Artur Zdzisław",
        "Anna Maria Katarzyna Małgorzata Agnieszka Krystyna Barbara Ewa Elżbieta Zofia Janina Teresa Joanna "
        "Magdalena Monika Jadwiga Danuta Irena Halina Helena Beata Aleksandra Marta Dorota Marianna Grażyna "
        "Jolanta Stanisława Iwona Karolina Bożena Urszula Justyna Renata Alicja Paulina Sylwia Natalia Wanda "
        "Agata",
        "Nowak Kowalski/Kowalska Wiśniewski/Wiśniewska Wójcik Kowalczyk Kamiński/Kamińska Lewandowski/Lewandowska "
        "Zieliński/Zielińska Szymański/Szymańska Woźniak Dąbrowski/Dąbrowska Kozłowski/Kozłowska Jankowski/Jankowska "
        "Mazur Wojciechowski/Wojciechowska Kwiatkowski/Kwiatkowska Krawczyk Kaczmarek Piotrowski/Piotrowska "
        "Grabowski/Grabowska Zając Pawłowski/Pawłowska Michalski/Michalska Król Wieczorek Jabłoński/Jabłońska "
        "Wróbel Nowakowski/Nowakowska Majewski/Majewska Olszewski/Olszewska Stępień Malinowski/Malinowska "
        "Jaworski/Jaworska Adamczyk Dudek Nowicki/Nowicka Pawlak Górski/Górska Witkowski/Witkowska Walczak "
        "Sikora Baran Rutkowski/Rutkowska Michalak Szewczyk Ostrowski/Ostrowska Tomaszewski/Tomaszewska "
        "Pietrzak Marciniak Wróblewski/Wróblewska Zalewski/Zalewska Jakubowski/Jakubowska Jasiński/Jasińska "
        "Zawadzki/Zawadzka Sadowski/Sadowska Bąk Chmielewski/Chmielewska Włodarczyk Borkowski/Borkowska "
        "Czarnecki/Czarnecka Sawicki/Sawicka Sokołowski/Sokołowska Urbański/Urbańska Kubiak Maciejewski/Maciejewska "
        "Szczepański/Szczepańska Kucharski/Kucharska Wilk Kalinowski/Kalinowska Lis Mazurek Wysocki/Wysocka",
    ),
    "ES": (
        "Antonio José Manuel Francisco David Juan Javier Daniel Carlos Jesús Alejandro Miguel Rafael Pedro Pablo "
        "Ángel Sergio Fernando Jorge Luis Alberto Álvaro Diego Adrián Raúl Enrique Ramón Vicente Ignacio Andrés "
        "Rubén Óscar Joaquín Santiago Gonzalo Emilio Tomás Agustín Héctor Iñaki",
        "María Carmen Ana Isabel Dolores Pilar Teresa Rosa Laura Cristina Marta Lucía Francisca Antonia Mercedes "
        "Elena Sara Paula Raquel Rocío Manuela Beatriz Concepción Silvia Julia Patricia Irene Andrea Nuria "
        "Sonia Inmaculada Montserrat Alicia Rosario Ángela Begoña Ainhoa Itziar Leire Núria",
        "García González Rodríguez Fernández López Martínez Sánchez Pérez Gómez Martín Jiménez Ruiz Hernández "
        "Díaz Moreno Muñoz Álvarez Romero Alonso Gutiérrez Navarro Torres Domínguez Vázquez Ramos Gil Ramírez "
        "Serrano Blanco Molina Morales Suárez Ortega Delgado Castro Ortiz Rubio Marín Sanz Núñez Iglesias Medina "
        "Garrido Cortés Castillo Santos Lozano Guerrero Cano Prieto Méndez Cruz Calvo Gallego Vidal León Márquez "
        "Herrera Peña Flores Cabrera Campos Vega Fuentes Carrasco Diez Caballero Reyes Nieto Aguilar Pascual "
        "Santana Herrero Lorenzo Montero Hidalgo Giménez Ibáñez Ferrer Durán Santiago Benítez Mora Vicente "
        "Vargas Arias Carmona Crespo Román Pastor Soto Sáez Velasco Moya Soler Parra Esteban Bravo Gallardo Rojas",
    ),
    "RU": (
        "Александр Сергей Дмитрий Андрей Алексей Максим Евгений Иван Михаил Артём Николай Владимир Павел Роман "
        "Денис Олег Игорь Юрий Виктор Никита Константин Илья Антон Вадим Григорий Фёдор Борис Кирилл Тимофей "
        "Вячеслав Станислав Геннадий Аркадий Ярослав Эдуард Валерий Леонид Пётр Степан Захар",
        "Елена Ольга Наталья Татьяна Ирина Светлана Анна Мария Екатерина Юлия Анастасия Марина Людмила Галина "
        "Валентина Надежда Любовь Дарья Ксения Виктория Алёна Евгения Полина Вера Софья Алина Кристина Оксана "
        "Жанна Зоя Яна Лариса Нина Тамара Раиса Диана Варвара Ульяна Элеонора Лилия",
        "Иванов/Иванова Смирнов/Смирнова Кузнецов/Кузнецова Попов/Попова Васильев/Васильева Петров/Петрова "
        "Соколов/Соколова Михайлов/Михайлова Новиков/Новикова Фёдоров/Фёдорова Морозов/Морозова Волков/Волкова "
        "Алексеев/Алексеева Лебедев/Лебедева Семёнов/Семёнова Егоров/Егорова Павлов/Павлова Козлов/Козлова "
        "Степанов/Степанова Николаев/Николаева Орлов/Орлова Андреев/Андреева Макаров/Макарова Никитин/Никитина "
        "Захаров/Захарова Зайцев/Зайцева Соловьёв/Соловьёва Борисов/Борисова Яковлев/Яковлева Григорьев/Григорьева "
        "Романов/Романова Воробьёв/Воробьёва Сергеев/Сергеева Кузьмин/Кузьмина Фролов/Фролова Александров/Александрова "
        "Дмитриев/Дмитриева Королёв/Королёва Гусев/Гусева Киселёв/Киселёва Ильин/Ильина Максимов/Максимова "
        "Поляков/Полякова Сорокин/Сорокина Виноградов/Виноградова Ковалёв/Ковалёва Белов/Белова Медведев/Медведева "
        "Антонов/Антонова Тарасов/Тарасова Жуков/Жукова Баранов/Баранова Филиппов/Филиппова Комаров/Комарова "
        "Давыдов/Давыдова Беляев/Беляева Герасимов/Герасимова Богданов/Богданова Осипов/Осипова Сидоров/Сидорова "
        "Матвеев/Матвеева Титов/Титова Марков/Маркова Миронов/Миронова Крылов/Крылова Куликов/Куликова "
        "Карпов/Карпова Власов/Власова Мельников/Мельникова Денисов/Денисова Гаврилов/Гаврилова Тихонов/Тихонова "
        "Казаков/Казакова Афанасьев/Афанасьева Данилов/Данилова Савельев/Савельева Тимофеев/Тимофеева "
        "Фомин/Фомина Чернов/Чернова Абрамов/Абрамова Мартынов/Мартынова Ефимов/Ефимова Федотов/Федотова "
        "Щербаков/Щербакова Назаров/Назарова Калинин/Калинина Исаев/Исаева Чернышёв/Чернышёва Быков/Быкова "
        "Маслов/Маслова Родионов/Родионова Коновалов/Коновалова Лазарев/Лазарева Воронин/Воронина Климов/Климова "
        "Филатов/Филатова Пономарёв/Пономарёва Голубев/Голубева Кудрявцев/Кудрявцева Прохоров/Прохорова "
        "Наумов/Наумова Потапов/Потапова Журавлёв/Журавлёва Овчинников/Овчинникова Трофимов/Трофимова "
        "Хрущёв/Хрущёва Чайковский/Чайковская Шевченко Ющенко Цветков/Цветкова",
    ),
    "BG": (
        "Георги Иван Димитър Николай Петър Христо Стоян Тодор Васил Йордан Стефан Александър Атанас Красимир "
        "Пламен Валентин Румен Емил Милен Цветан Любомир Борислав Светослав Мартин Веселин Кирил Огнян Илиян "
        "Радослав Теодор Калоян Асен Ангел Живко Здравко Жельо Пенчо Божидар Тихомир Чавдар",
        "Мария Иванка Елена Йорданка Пенка Величка Росица Надежда Десислава Цветанка Виолета Радка Гергана "
        "Даниела Петя Силвия Милена Красимира Галина Снежана Веселина Теодора Николина Христина Стефка Славка "
        "Жана Зорница Златка Калина Лиляна Йоана Ралица Бистра Деница Светла Румяна Добринка Мирослава Анелия",
        "Иванов/Иванова Георгиев/Георгиева Димитров/Димитрова Петров/Петрова Николов/Николова Христов/Христова "
        "Стоянов/Стоянова Тодоров/Тодорова Илиев/Илиева Василев/Василева Атанасов/Атанасова Петков/Петкова "
        "Ангелов/Ангелова Колев/Колева Йорданов/Йорданова Маринов/Маринова Стефанов/Стефанова Попов/Попова "
        "Михайлов/Михайлова Костов/Костова Кръстев/Кръстева Цветков/Цветкова Янков/Янкова Славов/Славова "
        "Павлов/Павлова Генчев/Генчева Божинов/Божинова Радев/Радева Желев/Желева Бонев/Бонева Чакъров/Чакърова "
        "Щерев/Щерева Жеков/Жекова Цонев/Цонева Хаджиев/Хаджиева Шишков/Шишкова Чолаков/Чолакова "
        "Райчев/Райчева Ганчев/Ганчева Вълчев/Вълчева Пенев/Пенева Добрев/Добрева Любенов/Любенова "
        "Кирилов/Кирилова Мишев/Мишева Тончев/Тончева Русев/Русева Сираков/Сиракова Узунов/Узунова "
        "Църнев/Църнева Грозев/Грозева Кючуков/Кючукова Юруков/Юрукова Янев/Янева Зафиров/Зафирова",
    ),
    "GR": (
        "Γεώργιος Ιωάννης Κωνσταντίνος Δημήτριος Νικόλαος Παναγιώτης Βασίλειος Χρήστος Αθανάσιος Μιχαήλ Ευάγγελος "
        "Σπυρίδων Αντώνιος Αναστάσιος Θεόδωρος Ανδρέας Χαράλαμπος Ηλίας Εμμανουήλ Σταύρος Πέτρος Αλέξανδρος "
        "Στέφανος Απόστολος Φώτιος Θεοφάνης Γρηγόριος Λεωνίδας Διονύσιος Κυριάκος Αριστοτέλης Ξενοφών Φίλιππος",
        "Μαρία Ελένη Αικατερίνη Βασιλική Σοφία Αγγελική Γεωργία Δήμητρα Κωνσταντίνα Παναγιώτα Ευαγγελία Ιωάννα "
        "Χριστίνα Ειρήνη Αναστασία Θεοδώρα Αλεξάνδρα Σταυρούλα Ευφροσύνη Χρυσούλα Φωτεινή Ζωή Ουρανία Κυριακή "
        "Αθηνά Δέσποινα Θεοπίστη Ξανθή Πηνελόπη Ευτυχία Στυλιανή Αφροδίτη Καλλιόπη",
        "Παπαδόπουλος/Παπαδοπούλου Παπαγεωργίου Οικονόμου Παπαδημητρίου Γεωργίου Παπαϊωάννου Βασιλείου "
        "Νικολάου Δημητρίου Καραγιάννης/Καραγιάννη Ιωάννου Αθανασίου Χριστοδούλου Παπανικολάου "
        "Κωνσταντινίδης/Κωνσταντινίδου Γεωργιάδης/Γεωργιάδου Αντωνίου Μακρής/Μακρή Ευαγγελίου Παππάς/Παππά "
        "Πετρόπουλος/Πετροπούλου Χατζηδάκης/Χατζηδάκη Αλεξίου Θεοδωρόπουλος/Θεοδωροπούλου Κυριακίδης/Κυριακίδου "
        "Σταθόπουλος/Σταθοπούλου Μιχαηλίδης/Μιχαηλίδου Αναστασίου Ζαχαρίου Κωστόπουλος/Κωστοπούλου "
        "Φωτόπουλος/Φωτοπούλου Ξενάκης/Ξενάκη Τσακίρης/Τσακίρη Χριστόπουλος/Χριστοπούλου Ψαρράς/Ψαρρά "
        "Θεοχάρης/Θεοχάρη Ζερβός/Ζερβού Φραγκιαδάκης/Φραγκιαδάκη Μαυρίδης/Μαυρίδου Σπυρόπουλος/Σπυροπούλου "
        "Βλάχος/Βλάχου Κουτσούκος/Κουτσούκου Τζαννετάκης/Τζαννετάκη Μπακογιάννης/Μπακογιάννη Ντόκος/Ντόκου "
        "Γκίκας/Γκίκα Ευθυμίου Λαμπράκης/Λαμπράκη Πολυχρόνης/Πολυχρόνη Ραφαηλίδης/Ραφαηλίδου Σαββίδης/Σαββίδου",
    ),
    "AR": (
        "Mohammed|Muhammad|Mohamed|Mohammad Ahmed|Ahmad Youssef|Yusuf|Youssouf|Yousef Khaled|Khalid "
        "Hussein|Hussain|Husain Mustafa|Moustafa|Mostafa Abdullah|Abdallah Omar|Umar Hassan|Hasan "
        "Ibrahim|Ebrahim Karim|Kareem Rashid|Rachid|Rashed Said|Saeed|Sayed Tariq|Tarek|Tarik Walid|Waleed "
        "Jamal|Djamel Nasser|Nasir Bilal Hamza|Hamzah Ismail|Ismael Yassin|Yasin|Yacine Adel|Adil Samir|Sameer "
        "Farid|Fareed Mahmoud|Mahmud Anwar|Anouar Nabil|Nabeel Sami|Samy Ziad|Ziyad Rami|Ramy Fouad|Fuad",
        "Fatima|Fatma|Fatimah Aisha|Aicha|Aysha Khadija|Khadidja|Khadeeja Leila|Layla|Leyla Mariam|Maryam|Meriem "
        "Zainab|Zeinab|Zaynab Amina|Aminah Nour|Noor|Nur Salma|Selma Yasmin|Yasmine|Jasmin Hanan|Hanane "
        "Samira|Sameera Nadia|Nadiya Rania|Raniya Souad|Suad Houda|Huda Malika|Malikah Karima|Kareema "
        "Latifa|Latifah Naima|Naeema Rachida|Rashida Sara|Sarah Hiba|Heba Dounia|Dunya Imane|Iman",
        "Al-Masri|El_Masri|Elmasri Haddad|Hadad Khoury|Khouri|Khury Abdel_Rahman|Abdelrahman|Abdul_Rahman "
        "Ben_Ali|Benali Bouazizi|Bouazzizi Mansour|Mansur Nasrallah|Nasralla Qureshi|Kureshi|Qurashi Hamdan "
        "Saleh|Salih Hashemi|Hashimi Suleiman|Sulaiman|Soliman Othman|Osman|Uthman Yassine|Yasin|Yacine "
        "Chaoui|Shawi Benjelloun|Ben_Jelloun El_Amrani|Elamrani|Al_Amrani Bouzid|Bouzeid Tahiri|Tahiry "
        "Zidane|Zidan Belkacem|Belqasim Cherif|Sharif|Sherif Abdelaziz|Abdul_Aziz|Abdulaziz Hamdi|Hamdy "
        "Rahmouni|Rahmuni Khalil|Khaleel Ghanem|Ghanim Darwish|Darwich|Derviş Fakhoury|Fakhouri Sabbagh|Sabagh "
        "Awad|Awwad Haddadi|Hadadi Jaber|Jabir Kassem|Qasim|Kacem Najjar|Nagar Obeid|Ubaid Rizk|Rizq "
        "Shaheen|Chahine|Shahin Tawil|Taouil Zaher|Zahir Aziz|Azeez Bakri|Bakry Farouk|Faruq Habib|Habeeb",
    ),
    "IT": (
        "Giuseppe Giovanni Antonio Mario Luigi Francesco Angelo Vincenzo Pietro Salvatore Carlo Franco Domenico "
        "Bruno Paolo Michele Giorgio Aldo Sergio Luciano Stefano Andrea Marco Alessandro Roberto Fabio Matteo "
        "Lorenzo Davide Simone Niccolò Nicolò Gianluca Emanuele Raffaele Gennaro Ciro Rocco Cosimo",
        "Maria Anna Giuseppina Rosa Angela Giovanna Teresa Lucia Carmela Caterina Francesca Anna Maria Antonietta "
        "Carla Elena Concetta Rita Margherita Franca Paola Giulia Chiara Federica Valentina Alessia Martina "
        "Sofia Aurora Ginevra Beatrice Ludovica Noemi Nicoletta Graziella Raffaella Assunta Immacolata",
        "Rossi Russo Ferrari Esposito Bianchi Romano Colombo Ricci Marino Greco Bruno Gallo Conti De Luca "
        "Mancini Costa Giordano Rizzo Lombardi Moretti Barbieri Fontana Santoro Mariani Rinaldi Caruso Ferrara "
        "Galli Martini Leone Longo Gentile Martinelli Vitale Lombardo Serra Coppola De Santis D'Angelo Marchetti "
        "Parisi Villa Conte Ferraro Ferri Fabbri Bianco Marini Grasso Valentini Messina Sala De Angelis Gatti "
        "Pellegrini Palumbo Sanna Farina Rizzi Monti Cattaneo Morelli Amato Silvestri Mazza Testa Grassi "
        "Pellegrino Carbone Giuliani Benedetti Barone Rossetti Caputo Montanari Guerra Palmieri Bernardi "
        "Martino Fiore De Rosa Ferretti Bellini Basile Riva Donati Piras Vitali Battaglia Sartori Neri Costantini",
    ),
}

# Cyrillic -> Latin, per convention: ICAO Doc 9303 (passports; what records carry as transliteration), German
# (Duden), French, English (BGN/PCGN), and Bulgaria's official system for Bulgarian names.
_CYR = "абвгдеёжзийклмнопрстуфхцчшщъыьэюя"
_CYRILLIC_TABLES = {
    "icao": "a b v g d e e zh z i i k l m n o p r s t u f kh ts ch sh shch ie y - e iu ia",
    "de": "a b w g d e jo sch s i j k l m n o p r s t u f ch z tsch sch schtsch - y - e ju ja",
    "fr": "a b v g d e io j z i i k l m n o p r s t ou f kh ts tch ch chtch - y - e iou ia",
    "en": "a b v g d e yo zh z i y k l m n o p r s t u f kh ts ch sh shch - y - e yu ya",
    "bg": "a b v g d e e zh z i y k l m n o p r s t u f h ts ch sh sht a y y e yu ya",
}
CYRILLIC: dict[str, list[str]] = {name: table.split(" ") for name, table in _CYRILLIC_TABLES.items()}
if any(len(table) != len(_CYR) for table in CYRILLIC.values()):
    raise ValueError("a Cyrillic table does not cover the alphabet")
CYRILLIC_LETTERS = _CYR

# Greek -> Latin: ELOT 743 (what Greek records carry) and an older phonetic convention met abroad.
GREEK_DIGRAPHS: dict[str, dict[str, str]] = {
    "elot": {"ου": "ou", "αι": "ai", "ει": "ei", "οι": "oi", "αυ": "av", "ευ": "ev", "μπ": "mp", "ντ": "nt",
             "γκ": "gk", "τζ": "tz", "τσ": "ts"},
    "phon": {"ου": "u", "αι": "e", "ει": "i", "οι": "i", "αυ": "af", "ευ": "ef", "μπ": "b", "ντ": "d",
             "γκ": "g", "τζ": "dz", "τσ": "ts"},
}  # fmt: skip
_GREEK = "αβγδεζηθικλμνξοπρσςτυφχψω"
_GREEK_TABLES = {
    "elot": "a v g d e z i th i k l m n x o p r s s t y f ch ps o",
    "phon": "a v g d e z i th i k l m n x o p r s s t i ph h ps o",
}
GREEK_LETTERS: dict[str, dict[str, str]] = {
    name: dict(zip(_GREEK, table.split(" "), strict=True)) for name, table in _GREEK_TABLES.items()
}
