'use strict';
// Differential cases of the extraction, network and parsing converters (issue 14):
// ExtractPatterns, ExtractGrokPatterns, IsInCIDR, URL, UserAgent, Log and ParseSeverity.
// ottl-cases.js appends them to its list, passing its input builders (h).

module.exports = (h) => {
  const { str, int, dbl, log, L } = h;
  const body = (s, attrs = {}) => log(attrs, { body: str(s) });
  const set = (expr) => [`set(log.attributes["r"], ${expr})`];
  const apache = '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326';
  const combined = `${apache} "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"`;
  return [
    // ExtractPatterns
    { name: 'ExtractPatterns gives the named groups', signal: L, statements: set('ExtractPatterns(log.body, "user=(?P<user>[a-z]+) id=(?P<id>[0-9]+)")'), input: body('x user=alice id=42 y') },
    { name: 'ExtractPatterns leaves unnamed groups out and gives "" for a group that took no part', signal: L, statements: set('ExtractPatterns(log.body, "(a)(?P<x>z)?(?P<y>b)")'), input: body('ab') },
    { name: 'ExtractPatterns without a match gives an empty map', signal: L, statements: set('ExtractPatterns(log.body, "(?P<d>[0-9]+)")'), input: body('none') },
    { name: 'ExtractPatterns merged into the attributes', signal: L, statements: ['merge_maps(log.attributes, ExtractPatterns(log.body, "^(?P<method>[A-Z]+) (?P<path>\\\\S+)"), "upsert")'], input: body('GET /index.html HTTP/1.1') },
    { name: 'ExtractPatterns without a named group fails when run', signal: L, statements: set('ExtractPatterns(log.body, "([0-9]+)")'), input: body('1') },
    { name: 'ExtractPatterns with a bad regex is a configuration error', signal: L, statements: set('ExtractPatterns(log.body, "(?P<a>[0-9]+")'), input: body('1') },
    { name: 'ExtractPatterns of a missing attribute fails', signal: L, statements: set('ExtractPatterns(log.attributes["no"], "(?P<a>.)")'), input: body('1') },
    { name: 'ExtractPatterns of an int fails', signal: L, statements: set('ExtractPatterns(log.attributes["n"], "(?P<a>.)")'), input: body('1', { n: int(5) }) },

    // ExtractGrokPatterns
    { name: 'ExtractGrokPatterns with named captures only and types', signal: L, statements: set('ExtractGrokPatterns(log.body, "%{IP:client} %{WORD:method} %{URIPATHPARAM:request} %{INT:bytes:int} %{NUMBER:secs:float}", true)'), input: body('10.1.2.3 GET /index.html?a=1 512 0.25') },
    { name: 'ExtractGrokPatterns of a timestamp, level and message', signal: L, statements: set('ExtractGrokPatterns(log.body, "%{TIMESTAMP_ISO8601:ts} %{LOGLEVEL:level} %{GREEDYDATA:msg}", namedCapturesOnly = true)'), input: body('2024-05-06T07:08:09.123Z ERROR disk full') },
    { name: 'ExtractGrokPatterns of a common Apache log line', signal: L, statements: set('ExtractGrokPatterns(log.body, "%{COMMONAPACHELOG}", true)'), input: body(apache) },
    { name: 'ExtractGrokPatterns of a combined Apache log line', signal: L, statements: set('ExtractGrokPatterns(log.body, "%{COMBINEDAPACHELOG}", true)'), input: body(combined) },
    { name: 'ExtractGrokPatterns without a match gives an empty map', signal: L, statements: set('ExtractGrokPatterns(log.body, "%{INT:n}", true)'), input: body('none') },
    { name: 'ExtractGrokPatterns with pattern definitions', signal: L, statements: set('ExtractGrokPatterns(log.body, "%{MYID:id} %{UUID:u}", true, ["MYID=id-%{NUM}", "NUM=[0-9]+"])'), input: body('id-42 123e4567-e89b-12d3-a456-426614174000') },
    { name: 'ExtractGrokPatterns with a definition overriding a built-in', signal: L, statements: set('ExtractGrokPatterns(log.body, "%{WORD:w}", true, ["WORD=b+"])'), input: body('abbc') },
    { name: 'ExtractGrokPatterns of words, an email address and a quoted string', signal: L, statements: set('ExtractGrokPatterns(log.body, "%{WORD:a} %{EMAILADDRESS:mail} %{QUOTEDSTRING:q} %{HOSTNAME:h}", true)'), input: body('hello joe.doe@example.com "a \\"b\\" c" api.example.org') },
    { name: 'ExtractGrokPatterns of an IPv6 address', signal: L, statements: set('ExtractGrokPatterns(log.body, "%{IPV6:ip} %{IPV4:ip4}", true)'), input: body('2001:db8::1 192.168.0.1') },
    { name: 'ExtractGrokPatterns of an HTTP date', signal: L, statements: set('ExtractGrokPatterns(log.body, "\\\\[%{HTTPDATE:d}\\\\]", true)'), input: body('[10/Oct/2000:13:55:36 -0700]') },
    { name: 'ExtractGrokPatterns with an unnamed reference and a named one', signal: L, statements: set('ExtractGrokPatterns(log.body, "%{WORD} %{INT:n:int}")'), input: body('abc 12') },
    { name: 'ExtractGrokPatterns without namedCapturesOnly names nested references', signal: L, statements: set('ExtractGrokPatterns(log.body, "%{IP:client} %{NUMBER:n} %{URIPATHPARAM:req}")'), input: body('10.1.2.3 1.5 /a/b?c=d') },
    { name: 'ExtractGrokPatterns without namedCapturesOnly of an IPv6 address and a hostname', signal: L, statements: set('ExtractGrokPatterns(log.body, "%{IPORHOST:a} %{IPORHOST:b} %{HOSTPORT:hp}")'), input: body('2001:db8::1 example.com 10.0.0.1:8080') },
    { name: 'ExtractGrokPatterns without namedCapturesOnly of a timestamp', signal: L, statements: set('ExtractGrokPatterns(log.body, "%{TIMESTAMP_ISO8601:ts}")'), input: body('2024-05-06 07:08:09,123+02:00') },
    { name: 'ExtractGrokPatterns of a syslog timestamp and a bool', signal: L, statements: set('ExtractGrokPatterns(log.body, "%{SYSLOGTIMESTAMP:ts} %{WORD:ok:bool} %{BASE16NUM:h}", true)'), input: body('Oct  3 12:01:02 true 0x1F') },
    { name: 'ExtractGrokPatterns with a regex group of its own', signal: L, statements: set('ExtractGrokPatterns(log.body, "(?P<k>[a-z]+)=%{INT:v:int}", true)'), input: body('abc=-12') },
    { name: 'ExtractGrokPatterns without namedCapturesOnly of a common Apache log line', signal: L, statements: set('ExtractGrokPatterns(log.body, "%{COMMONAPACHELOG}")'), input: body(apache) },
    { name: 'ExtractGrokPatterns without namedCapturesOnly of dates, a URI and an email address', signal: L, statements: set('ExtractGrokPatterns(log.body, "%{HTTPDATE:d} %{SYSLOGTIMESTAMP:s} %{URI:u} %{EMAILADDRESS:e} %{QS:q} %{MAC:m}")'), input: body('10/Oct/2000:13:55:36 -0700 Oct  3 12:01:02 https://joe@example.com:8080/a/b?x=1 joe.doe@example.com "quoted" 00:1a:2b:3c:4d:5e') },
    { name: 'ExtractGrokPatterns without namedCapturesOnly of a log level and a UUID', signal: L, statements: set('ExtractGrokPatterns(log.body, "%{LOGLEVEL:l} %{UUID:u} %{DATESTAMP:ds} %{POSINT:p} %{DATA:rest}$")'), input: body('warning 123e4567-e89b-12d3-a456-426614174000 10/03/2024 12:01:02 42 tail text') },
    { name: 'ExtractGrokPatterns of an unknown pattern is a configuration error', signal: L, statements: set('ExtractGrokPatterns(log.body, "%{NOPE:x}")'), input: body('1') },
    { name: 'ExtractGrokPatterns of a definition without = is a configuration error', signal: L, statements: set('ExtractGrokPatterns(log.body, "%{WORD:w}", true, ["NOEQUALS"])'), input: body('1') },
    { name: 'ExtractGrokPatterns with a colon in a definition name is a configuration error', signal: L, statements: set('ExtractGrokPatterns(log.body, "%{WORD:w}", true, ["A:B=x"])'), input: body('1') },
    { name: 'ExtractGrokPatterns with named captures only and none named is a configuration error', signal: L, statements: set('ExtractGrokPatterns(log.body, "%{WORD}", true)'), input: body('1') },
    { name: 'ExtractGrokPatterns with an int field that is no int fails', signal: L, statements: set('ExtractGrokPatterns(log.body, "%{NOTSPACE:n:int}", true)'), input: body('x1') },
    { name: 'ExtractGrokPatterns of a missing attribute fails', signal: L, statements: set('ExtractGrokPatterns(log.attributes["no"], "%{WORD:w}", true)'), input: body('x') },

    { name: 'ExtractGrokPatterns with a string type and an unknown type', signal: L, error_mode: 'ignore', statements: ['set(log.attributes["a"], ExtractGrokPatterns(log.body, "%{INT:n:string}", true))', 'set(log.attributes["b"], ExtractGrokPatterns(log.body, "%{INT:n:foo}", true))', 'set(log.attributes["c"], ExtractGrokPatterns(log.body, "%{WORD:n:foo}", true))'], input: body('42') },
    { name: 'ExtractGrokPatterns with a dotted field and a repeated field', signal: L, statements: set('ExtractGrokPatterns(log.body, "%{WORD:a.b} %{WORD:a.b} %{INT:x.y.z:int}", true)'), input: body('one two 3') },

    // IsInCIDR
    { name: 'IsInCIDR of IPv4 addresses', signal: L, statements: ['set(log.attributes["a"], IsInCIDR("10.1.2.3", ["192.168.0.0/16", "10.0.0.0/8"]))', 'set(log.attributes["b"], IsInCIDR("11.1.2.3", ["10.0.0.0/8"]))', 'set(log.attributes["c"], IsInCIDR("192.168.1.255", ["192.168.1.0/24"]))', 'set(log.attributes["d"], IsInCIDR("1.2.3.4", ["0.0.0.0/0"]))'], input: body('') },
    { name: 'IsInCIDR of IPv6 addresses', signal: L, statements: ['set(log.attributes["a"], IsInCIDR("2001:db8::1", ["2001:db8::/32"]))', 'set(log.attributes["b"], IsInCIDR("2001:db9::1", ["2001:db8::/32"]))', 'set(log.attributes["c"], IsInCIDR("::1", ["::1/128"]))'], input: body('') },
    { name: 'IsInCIDR across families', signal: L, statements: ['set(log.attributes["a"], IsInCIDR("::ffff:10.0.0.1", ["10.0.0.0/8"]))', 'set(log.attributes["b"], IsInCIDR("10.0.0.1", ["::/0"]))', 'set(log.attributes["c"], IsInCIDR("10.0.0.1", ["::ffff:10.0.0.0/104"]))', 'set(log.attributes["d"], IsInCIDR("::1", ["0.0.0.0/0"]))'], input: body('') },
    { name: 'IsInCIDR with leading zeros in a prefix length', signal: L, statements: ['set(log.attributes["a"], IsInCIDR("10.1.2.3", ["10.0.0.0/008"]))', 'set(log.attributes["b"], IsInCIDR("2001:db8::1", ["2001:db8::/0032"]))'], input: body('') },
    { name: 'IsInCIDR with a huge prefix length is a configuration error', signal: L, statements: ['set(log.attributes["a"], IsInCIDR("10.1.2.3", ["10.0.0.0/99999999999999999999"]))'], input: body('') },
    { name: 'IsInCIDR of text that is no address is false', signal: L, statements: ['set(log.attributes["a"], IsInCIDR(log.body, ["0.0.0.0/0"]))', 'set(log.attributes["b"], IsInCIDR("01.2.3.4", ["0.0.0.0/0"]))', 'set(log.attributes["c"], IsInCIDR("1.2.3.4/8", ["0.0.0.0/0"]))'], input: body('not an ip') },
    { name: 'IsInCIDR as a condition', signal: L, statements: ['set(log.attributes["internal"], true) where IsInCIDR(log.attributes["ip"], ["10.0.0.0/8", "172.16.0.0/12"])'], input: body('', { ip: str('172.20.1.1') }) },
    { name: 'IsInCIDR with networks from attributes', signal: L, statements: ['set(log.attributes["a"], IsInCIDR("10.0.0.1", [log.attributes["n"]]))'], input: body('', { n: str('10.0.0.0/8') }) },
    { name: 'IsInCIDR with a bad network attribute fails', signal: L, statements: ['set(log.attributes["a"], IsInCIDR("10.0.0.1", [log.attributes["n"]]))'], input: body('', { n: str('10.0.0.0/40') }) },
    { name: 'IsInCIDR with a bad literal network is a configuration error', signal: L, statements: ['set(log.attributes["a"], IsInCIDR("10.0.0.1", ["10.0.0.0"]))'], input: body('') },
    { name: 'IsInCIDR of a missing attribute fails', signal: L, statements: ['set(log.attributes["a"], IsInCIDR(log.attributes["no"], ["10.0.0.0/8"]))'], input: body('') },

    // URL
    { name: 'URL of a full URL', signal: L, statements: set('URL(log.body)'), input: body('https://user:pw@Example.com:8443/a/b.tar.gz?x=1&y=2#frag') },
    { name: 'URL of a plain URL', signal: L, statements: set('URL(log.body)'), input: body('http://example.com') },
    { name: 'URL of a path and query', signal: L, statements: set('URL(log.body)'), input: body('/search?q=a+b&lang=en') },
    { name: 'URL with escapes in the path and an upper-case scheme', signal: L, statements: set('URL(log.body)'), input: body('HTTP://[::1]:80/a%20b c/%2F/d.json') },
    { name: 'URL of an opaque URL', signal: L, statements: set('URL(log.body)'), input: body('mailto:joe@example.com') },
    { name: 'URL with a user and no password', signal: L, statements: set('URL(log.body)'), input: body('ftp://anon@ftp.example.org/pub/') },
    { name: 'URL with an empty fragment and a bare ?', signal: L, statements: set('URL(log.body)'), input: body('http://h/p?#') },
    { name: 'URL of a query string alone', signal: L, statements: set('URL(log.body)'), input: body('?a=1&b=x+y&a=2&c') },
    { name: 'URL with an encoded user and a dot in a directory', signal: L, statements: set('URL(log.body)'), input: body('https://us%40er:p%3Ass@h.example/v1.2/file') },
    { name: 'URL of a relative reference', signal: L, statements: set('URL(log.body)'), input: body('a/b/c.txt#top') },
    { name: 'URL of a scheme-relative reference', signal: L, statements: set('URL(log.body)'), input: body('//cdn.example.com/lib.js') },
    { name: 'URL with non-ASCII text', signal: L, statements: set('URL(log.body)'), input: body('http://example.com/caf\u00e9?q=\u00e9#\u00e9') },
    { name: 'URL with an empty port', signal: L, statements: set('URL(log.body)'), input: body('http://example.com:/x') },
    { name: 'URL with a huge port fails', signal: L, statements: set('URL(log.body)'), input: body('http://example.com:99999999999999999999/x') },
    { name: 'URL with a space in the host fails', signal: L, statements: set('URL(log.body)'), input: body('http://exa mple.com/') },
    { name: 'URL with a control character fails', signal: L, statements: set('URL(log.body)'), input: body('http://example.com/\u0001') },
    { name: 'URL of a scheme alone', signal: L, statements: set('URL(log.body)'), input: body('http:') },
    { name: 'URL of a star', signal: L, statements: set('URL(log.body)'), input: body('*') },
    { name: 'URL with a space in the user info fails', signal: L, statements: set('URL(log.body)'), input: body('http://a b@host/') },
    { name: 'URL with an IPv6 host missing its bracket fails', signal: L, statements: set('URL(log.body)'), input: body('http://[::1/x') },
    { name: 'URL of an empty string fails', signal: L, statements: set('URL(log.body)'), input: body('') },
    { name: 'URL with a bad escape fails', signal: L, statements: set('URL(log.body)'), input: body('http://x/%zz') },
    { name: 'URL with a bad port fails', signal: L, statements: set('URL(log.body)'), input: body('http://x:8a/') },
    { name: 'URL without a scheme before a colon fails', signal: L, statements: set('URL(log.body)'), input: body(':x') },
    { name: 'URL with a colon in the first path segment fails', signal: L, statements: set('URL(log.body)'), input: body('1a:b/c') },
    { name: 'URL of a query with a semicolon fails', signal: L, statements: set('URL(log.body)'), input: body('?a=1;b=2') },
    { name: 'URL of an int fails', signal: L, statements: set('URL(log.attributes["n"])'), input: body('', { n: int(1) }) },

    // UserAgent
    { name: 'UserAgent of Chrome on Windows', signal: L, statements: set('UserAgent(log.body)'), input: body('Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.6099.130 Safari/537.36') },
    { name: 'UserAgent of Firefox on Linux', signal: L, statements: set('UserAgent(log.body)'), input: body('Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0') },
    { name: 'UserAgent of Safari on macOS', signal: L, statements: set('UserAgent(log.body)'), input: body('Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15') },
    { name: 'UserAgent of Edge', signal: L, statements: set('UserAgent(log.body)'), input: body('Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.2210.91') },
    { name: 'UserAgent of curl', signal: L, statements: set('UserAgent(log.body)'), input: body('curl/8.4.0') },
    { name: 'UserAgent of Googlebot', signal: L, statements: set('UserAgent(log.body)'), input: body('Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)') },
    { name: 'UserAgent of Chrome on Android', signal: L, statements: set('UserAgent(log.body)'), input: body('Mozilla/5.0 (Linux; Android 13; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/116.0.0.0 Mobile Safari/537.36') },
    { name: 'UserAgent of Safari on an iPhone', signal: L, statements: set('UserAgent(log.body)'), input: body('Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1.2 Mobile/15E148 Safari/604.1') },
    { name: 'UserAgent of Wget and python-requests', signal: L, statements: ['set(log.attributes["a"], UserAgent("Wget/1.21.4"))', 'set(log.attributes["b"], UserAgent("python-requests/2.31.0"))'], input: body('') },
    { name: 'UserAgent of Firefox on Windows 7', signal: L, statements: set('UserAgent(log.body)'), input: body('Mozilla/5.0 (Windows NT 6.1; WOW64; rv:52.0) Gecko/20100101 Firefox/52.0') },
    { name: 'UserAgent of an empty string', signal: L, statements: set('UserAgent(log.body)'), input: body('') },
    { name: 'UserAgent of Opera, Chrome on iOS and bingbot', signal: L, statements: ['set(log.attributes["a"], UserAgent("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36 OPR/105.0.0.0"))', 'set(log.attributes["b"], UserAgent("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/120.0.6099.119 Mobile/15E148 Safari/604.1"))', 'set(log.attributes["c"], UserAgent("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"))'], input: body('') },
    { name: 'UserAgent of Safari on an iPad and Firefox on Android', signal: L, statements: ['set(log.attributes["a"], UserAgent("Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/16.6 Mobile/15E148 Safari/604.1"))', 'set(log.attributes["b"], UserAgent("Mozilla/5.0 (Android 14; Mobile; rv:121.0) Gecko/121.0 Firefox/121.0"))', 'set(log.attributes["c"], UserAgent("Mozilla/5.0 (Windows NT 6.3; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/109.0.0.0 Safari/537.36"))'], input: body('') },
    { name: 'UserAgent of text it does not know', signal: L, statements: set('UserAgent(log.body)'), input: body('something') },

    // Log
    { name: 'Log of ints, doubles and strings', signal: L, statements: ['set(log.attributes["a"], Log(1))', 'set(log.attributes["b"], Log(10))', 'set(log.attributes["c"], Log(2.5))', 'set(log.attributes["d"], Log("100"))', 'set(log.attributes["e"], Log(true))'], input: body('') },
    { name: 'Log of zero fails', signal: L, statements: ['set(log.attributes["a"], Log(0))'], input: body('') },
    { name: 'Log of a negative number fails', signal: L, statements: ['set(log.attributes["a"], Log(log.attributes["n"]))'], input: body('', { n: dbl(-1.5) }) },
    { name: 'Log of nil fails', signal: L, statements: ['set(log.attributes["a"], Log(log.attributes["no"]))'], input: body('') },
    { name: 'Log of text that is no number fails', signal: L, statements: ['set(log.attributes["a"], Log(log.body))'], input: body('x') },

    // ParseSeverity
    { name: 'ParseSeverity of an int in a range', signal: L, statements: ['set(log.attributes["s"], ParseSeverity(log.attributes["code"], {"error": [{"range": "5xx"}], "warn": [{"range": "4xx"}], "info": [{"range": {"min": 200, "max": 399}}]}))'], input: body('', { code: int(503) }) },
    { name: 'ParseSeverity of an int in a min-max range', signal: L, statements: ['set(log.attributes["s"], ParseSeverity(log.attributes["code"], {"error": [{"range": "5xx"}], "info": [{"range": {"min": 200, "max": 399}}]}))'], input: body('', { code: int(302) }) },
    { name: 'ParseSeverity of a string in equals', signal: L, statements: ['set(log.attributes["s"], ParseSeverity(log.body, {"error": [{"equals": ["ERR", "E"]}], "debug": [{"equals": ["DBG"]}, {"range": "2xx"}]}))'], input: body('DBG') },
    { name: 'ParseSeverity of a value no level takes fails', signal: L, statements: ['set(log.attributes["s"], ParseSeverity(log.body, {"error": [{"equals": ["ERR"]}]}))'], input: body('INFO') },
    { name: 'ParseSeverity of a double fails', signal: L, statements: ['set(log.attributes["s"], ParseSeverity(log.attributes["d"], {"error": [{"range": "5xx"}]}))'], input: body('', { d: dbl(1.5) }) },
    { name: 'ParseSeverity with a bad range placeholder fails', signal: L, statements: ['set(log.attributes["s"], ParseSeverity(log.body, {"error": [{"range": "6xx"}]}))'], input: body('x') },
    { name: 'ParseSeverity with criteria that are no list fails', signal: L, statements: ['set(log.attributes["s"], ParseSeverity(log.body, {"error": {"equals": ["x"]}}))'], input: body('x') },
    { name: 'ParseSeverity with a mapping that is no literal fails', signal: L, statements: ['set(log.attributes["s"], ParseSeverity(log.body, log.attributes["m"]))'], input: body('x') },
    { name: 'ParseSeverity with a range lacking max fails', signal: L, statements: ['set(log.attributes["s"], ParseSeverity(log.attributes["c"], {"error": [{"range": {"min": 1}}]}))'], input: body('', { c: int(1) }) },
    { name: 'ParseSeverity of nil fails', signal: L, statements: ['set(log.attributes["s"], ParseSeverity(log.attributes["no"], {"error": [{"range": "5xx"}]}))'], input: body('') },
    { name: 'ParseSeverity with an empty mapping fails', signal: L, statements: ['set(log.attributes["s"], ParseSeverity(log.body, {}))'], input: body('x') },
    { name: 'ParseSeverity with a string min fails', signal: L, statements: ['set(log.attributes["s"], ParseSeverity(log.attributes["c"], {"error": [{"range": {"min": "1", "max": 5}}]}))'], input: body('', { c: int(1) }) },
    { name: 'ParseSeverity with equals that is no list fails', signal: L, statements: ['set(log.attributes["s"], ParseSeverity(log.body, {"error": [{"equals": "x"}]}))'], input: body('x') },
    { name: 'ParseSeverity with a criterion of neither key', signal: L, error_mode: 'ignore', statements: ['set(log.attributes["s"], ParseSeverity(log.body, {"error": [{"other": 1}], "info": [{"equals": ["x"]}]}))'], input: body('x') },
    { name: 'ParseSeverity into the severity text', signal: L, statements: ['set(log.severity_text, ParseSeverity(log.attributes["code"], {"warn": [{"range": "4xx"}], "error": [{"range": "5xx"}]}))'], input: body('', { code: int(404) }) },
  ];
};
