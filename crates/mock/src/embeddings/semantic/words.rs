//! The word lists of the bag-of-words embedder: English stopwords, and a
//! small synonym table that folds common paraphrase words into one word.

/// Words dropped before embedding (lowercase, apostrophes removed, a
/// trailing `'s` stripped), separated by spaces: articles, pronouns,
/// auxiliaries, prepositions, question words and politeness, which carry
/// little of what a question asks. Kept: `why`, negations, and the number
/// words but "one".
pub(super) const STOPWORDS: &str = "\
    a about actually after again all also am an and any anyone approximately are around \
    as at be because been being both but by can could did do does doing done each even \
    every few for from get gets getting got had has have having he hello her here hey hi \
    him his how i if im in into is it its ive just kindly let lets many may me might \
    more most much must my myself now of on one onto or our ours out over please quite \
    really roughly shall she should so some someone something such tell than thank \
    thanks that the their them then there these they this those to too up very want was \
    way ways we were what whats when where which who whom whose will with would you your \
    youre yours yourself";

/// `(canonical word, the words folded into it)`, all stemmed before use,
/// so one entry covers plurals and `-ing`/`-ed` forms: general paraphrase
/// vocabulary (and a few demonyms and spellings), not one entry per
/// sentence of a test set.
pub(super) const SYNONYMS: &[(&str, &str)] = &[
    // doing things to code and data
    ("fix", "repair solve"),
    ("error", "bug problem issue wrong"),
    ("begin", "start"),
    ("explain", "describe"),
    ("remove", "delete rid"),
    ("duplicate", "repeated"),
    ("element", "entry"),
    ("undo", "revert"),
    ("last", "latest recent"),
    ("program", "script code"),
    ("dictionary", "dict"),
    ("raise", "throw"),
    ("missing", "absent"),
    ("handle", "deal"),
    ("iterate", "loop"),
    ("why", "reason cause"),
    ("center", "centre middle"),
    ("load", "import read"),
    ("mean", "purpose"),
    ("request", "call"),
    ("make", "perform"),
    ("run", "execute"),
    ("shell", "bash"),
    ("postgresql", "postgres"),
    ("database", "db"),
    ("connect", "connection"),
    ("javascript", "js"),
    ("view", "show"),
    // sizes, speed, price, quality
    ("large", "big huge"),
    ("fast", "quick rapid"),
    ("cheap", "affordable inexpensive"),
    ("good", "best better ideal"),
    ("high", "tall"),
    // buying, money
    ("buy", "purchase"),
    ("car", "automobile vehicle"),
    ("income", "salary paycheck"),
    ("percent", "percentage"),
    ("pay", "payment"),
    ("happen", "consequence"),
    ("forget", "forgot forgotten"),
    ("calculate", "calculation"),
    ("sell", "sale"),
    ("increase", "improve boost"),
    ("transfer", "send move copy export"),
    ("international", "abroad overseas"),
    // travel and places
    ("capital", "capitol"),
    ("document", "paper paperwork"),
    ("need", "require requirement necessary"),
    ("travel", "trip"),
    ("usa", "us"),
    ("citizen", "national"),
    ("flight", "plane"),
    ("luggage", "baggage bag"),
    ("bring", "carry pack"),
    ("allow", "ok"),
    ("cancel", "cancelled cancellation unsubscribe"),
    ("mountain", "peak"),
    ("speak", "spoken"),
    ("population", "inhabitant"),
    ("border", "neighboring neighbor"),
    ("italy", "italian"),
    ("uk", "british"),
    ("europe", "european"),
    ("africa", "african"),
    ("america", "american"),
    // food and health
    ("replace", "substitute replacement swap instead"),
    ("scratch", "homemade"),
    ("fridge", "refrigerator"),
    ("stick", "clump"),
    ("symptom", "sign"),
    ("day", "daily"),
    ("paracetamol", "acetaminophen"),
    ("together", "combine"),
    ("sleep", "asleep"),
    ("often", "frequently frequent"),
    ("benefit", "advantage"),
    ("lower", "reduce"),
    // comparing
    (
        "differ",
        "difference different distinguish vs versus compare",
    ),
    // devices and accounts
    ("reset", "recover"),
    ("laptop", "notebook"),
    ("computer", "pc"),
    ("update", "upgrade"),
    ("phone", "smartphone"),
    ("wifi", "wireless"),
    ("enable", "activate"),
    ("authentication", "verification"),
    // negation
    ("not", "no never cannot cant dont doesnt didnt isnt arent"),
    ("not", "wont wouldnt couldnt shouldnt without"),
    // number words
    ("2", "two"),
    ("3", "three"),
    ("4", "four"),
    ("5", "five"),
    ("6", "six"),
    ("7", "seven"),
    ("8", "eight"),
    ("9", "nine"),
    ("10", "ten"),
];

/// Whether `token` is one of [`STOPWORDS`].
pub(super) fn is_stopword(token: &str) -> bool {
    STOPWORDS.split_whitespace().any(|stop| stop == token)
}

/// Every `(word, canonical word)` pair of [`SYNONYMS`].
pub(super) fn synonym_pairs() -> impl Iterator<Item = (&'static str, &'static str)> {
    SYNONYMS
        .iter()
        .flat_map(|(canonical, words)| words.split_whitespace().map(move |word| (word, *canonical)))
}
