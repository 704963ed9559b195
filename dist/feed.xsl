<?xml version="1.0" encoding="UTF-8"?>
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:atom="http://www.w3.org/2005/Atom" xmlns:dc="http://purl.org/dc/elements/1.1/"
    exclude-result-prefixes="atom dc">
  <xsl:output method="html" encoding="UTF-8" indent="yes" doctype-system="about:legacy-compat"/>
  <xsl:variable name="title" select="/rss/channel/title | /atom:feed/atom:title"/>
  <xsl:variable name="self" select="(/rss/channel/atom:link | /atom:feed/atom:link)[@rel = 'self']/@href"/>
  <xsl:template match="/">
    <html lang="{(/rss/channel/language | /atom:feed/@xml:lang)[1]}">
      <head>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <title><xsl:value-of select="$title"/> (web feed)</title>
        <style>
:root{color-scheme:light dark;--fg:#1b1b1b;--muted:#505050;--bg:#fff;--card:#f5f6f8;--line:#d5d8dc;--link:#0b57d0}
@media (prefers-color-scheme:dark){:root{--fg:#eee;--muted:#bbb;--bg:#111;--card:#1e1e1e;--line:#444;--link:#8ab4f8}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:1.0625rem/1.55 system-ui,"Segoe UI",Roboto,sans-serif}
.wrap{max-width:60rem;margin:0 auto;padding-left:1.25rem;padding-right:1.25rem}
a{color:var(--link)} a:focus-visible{outline:3px solid var(--link);outline-offset:2px}
.skip{position:absolute;left:-100rem}.skip:focus{left:1rem;top:1rem;background:var(--bg);padding:.5rem}
.vh{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%);white-space:nowrap}
header{padding-top:1rem;padding-bottom:1rem;border-bottom:1px solid var(--line)}
h1{font-size:2rem;line-height:1.2;margin:.5rem 0}
h2{font-size:1.35rem;line-height:1.3;margin:2rem 0 .75rem}
h3{font-size:1.1rem;line-height:1.3;margin:0 0 .3rem}
.muted,time{color:var(--muted)} time{white-space:nowrap}
.note{background:var(--card);border-left:4px solid var(--link);padding:.6rem .9rem;margin:1rem 0 0}
.feeds{list-style:none;padding:0;margin:0;display:grid;gap:.75rem;grid-template-columns:repeat(auto-fill,minmax(17rem,1fr))}
.feeds li,article{background:var(--card);border:1px solid var(--line);border-radius:.5rem;padding:.9rem 1.1rem}
.feeds p{margin:.2rem 0} .formats a{margin-right:.8rem;white-space:nowrap}
article{margin:1rem 0} article h2{margin:0 0 .3rem} article h3{margin-top:1rem;font-size:1rem}
img{display:block;max-width:100%;height:auto;max-height:20rem;object-fit:cover;border-radius:.35rem;margin:.6rem 0}
code{overflow-wrap:anywhere}
footer{margin-top:2rem;padding-top:.5rem;padding-bottom:2rem;border-top:1px solid var(--line);font-size:.95rem}
</style>
      </head>
      <body>
        <header class="wrap">
          <nav aria-label="Site"><a href="https://feeds.example.org/index.html">All feeds</a></nav>
          <h1><xsl:value-of select="$title"/></h1>
          <p><xsl:value-of select="/rss/channel/description | /atom:feed/atom:subtitle"/></p>
          <p class="note">This is a web feed. Copy its URL into your news reader to subscribe.<br/><code><xsl:value-of select="$self"/></code></p>
        </header>
        <main id="main" class="wrap">
          <xsl:apply-templates select="/rss/channel/item | /atom:feed/atom:entry"/>
        </main>
      </body>
    </html>
  </xsl:template>
  <xsl:template match="item | atom:entry">
    <xsl:variable name="href" select="link | atom:link[not(@rel) or @rel = 'alternate']/@href"/>
    <article>
      <h2>
        <xsl:variable name="text" select="string(title | atom:title)"/><!-- plain text in both formats -->
        <xsl:choose>
          <xsl:when test="starts-with($href, 'https://') or starts-with($href, 'http://')">
            <a href="{$href}"><xsl:value-of select="$text"/></a>
          </xsl:when>
          <xsl:otherwise><xsl:value-of select="$text"/></xsl:otherwise>
        </xsl:choose>
      </h2>
      <p class="muted">
        <xsl:value-of select="dc:creator | atom:author/atom:name"/>
        <xsl:text> · </xsl:text>
        <xsl:value-of select="substring(pubDate, 1, 16)"/>
        <xsl:value-of select="substring(atom:published | atom:updated[not(../atom:published)], 1, 10)"/>
      </p>
      <p>
        <xsl:call-template name="unescape">
          <xsl:with-param name="s" select="description | atom:summary"/>
          <xsl:with-param name="html" select="boolean(description) or atom:summary/@type = 'html'"/>
        </xsl:call-template>
      </p>
    </article>
  </xsl:template>
  <xsl:template name="unescape">
    <xsl:param name="s"/>
    <xsl:param name="html" select="true()"/>
    <xsl:variable name="rest" select="substring-after($s, '&amp;')"/>
    <xsl:variable name="name" select="substring-before($rest, ';')"/>
    <xsl:choose>
      <xsl:when test="not($html) or not(contains($s, '&amp;'))"><xsl:value-of select="$s"/></xsl:when>
      <xsl:otherwise>
        <xsl:variable name="char">
          <xsl:choose>
            <xsl:when test="$name = 'lt'">&lt;</xsl:when>
            <xsl:when test="$name = 'gt'">&gt;</xsl:when>
            <xsl:when test="$name = 'amp'">&amp;</xsl:when>
            <xsl:when test="$name = 'quot'">"</xsl:when>
            <xsl:when test="$name = '#x27' or $name = '#39'">'</xsl:when>
          </xsl:choose>
        </xsl:variable>
        <xsl:value-of select="concat(substring-before($s, '&amp;'), $char, substring('&amp;', 1, not(string($char))))"/>
        <xsl:call-template name="unescape"><!-- after the entity, or after a lone "&" -->
          <xsl:with-param name="s" select="substring($rest, 1 + (string-length($name) + 1) * boolean(string($char)))"/>
        </xsl:call-template>
      </xsl:otherwise>
    </xsl:choose>
  </xsl:template>
</xsl:stylesheet>
